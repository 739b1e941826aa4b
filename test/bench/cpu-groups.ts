// Benchmark support: CPU cgroups of their own for a benchmark's threads, the way a node keeps the
// container runtime (which execs CNI plugins) apart from a DaemonSet pod such as the CNI node
// agent, and from the API server (another machine altogether). Without them, a helper thread that
// serves twenty plugin processes competes with them as one task among twenty-odd, which no node
// does: the kernel shares CPU between the runtime's and the pod's cgroups first, then within them.
// Uses the cgroup v1 `cpu` controller, where single threads can be moved (`tasks`); elsewhere, or
// without the right to create groups, it places nothing and says so (`mode: "none"`).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const V1_CPU = "/sys/fs/cgroup/cpu";

export interface CpuGroups {
  /** "cgroup-v1" when threads are being placed, "none" when they cannot be. */
  readonly mode: "cgroup-v1" | "none";
  /** Why placing is off, when it is. */
  readonly reason?: string;
  /**
   * Moves thread `tid` into group `name` (created on first use, default weight); false (and the
   * reason in `failures`) when the kernel refused.
   */
  place(name: string, tid: number): boolean;
  /** Placements the kernel refused, as "name: error". */
  readonly failures: string[];
  /** Moves every placed thread still alive back to the root group and removes the groups. */
  close(): void;
}

/** The calling thread's id (the main thread's is the process id): /proc/thread-self/stat's first field. */
export function currentThreadId(): number {
  try {
    const stat = readFileSync("/proc/thread-self/stat", "utf8");
    return Number(stat.slice(0, stat.indexOf(" ")));
  } catch {
    return process.pid;
  }
}

export function cpuGroups(id: string): CpuGroups {
  const parent = join(V1_CPU, `remora-bench-${id}`);
  const none = (reason: string): CpuGroups => ({
    mode: "none",
    reason,
    failures: [],
    place: () => false,
    close() {},
  });
  if (!existsSync(join(V1_CPU, "tasks"))) return none("no cgroup v1 cpu controller");
  try {
    mkdirSync(parent);
  } catch (e) {
    return none(`cannot create ${parent}: ${(e as Error).message}`);
  }
  const groups = new Set<string>();
  let closed = false;
  const failures: string[] = [];
  return {
    mode: "cgroup-v1",
    failures,
    place(name, tid) {
      const dir = join(parent, name);
      try {
        if (!groups.has(dir)) {
          mkdirSync(dir, { recursive: true });
          groups.add(dir);
        }
        writeFileSync(join(dir, "tasks"), `${tid}\n`);
        return true;
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
        return false;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const dir of groups) {
        for (const tid of readFileSync(join(dir, "tasks"), "utf8").split("\n").filter(Boolean)) {
          try {
            writeFileSync(join(V1_CPU, "tasks"), `${tid}\n`);
          } catch {
            // The thread exited between the read and the move: nothing left to move.
          }
        }
        removeGroup(dir);
      }
      removeGroup(parent);
    },
  };
}

function removeGroup(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (e) {
    // Left behind (a thread still in it): say so rather than fail the run at exit.
    process.stderr.write(`# cpu-groups: could not remove ${dir}: ${(e as Error).message}\n`);
  }
}
