// Decides whether tests that need root or Debian tools run, skip with a visible reason, or
// fail: under REQUIRE_PRIVILEGED=1 (set by .ci/run) a missing prerequisite is a failure.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";

export const REQUIRE_PRIVILEGED = process.env.REQUIRE_PRIVILEGED === "1";

/** Returns the absolute path of a command found on PATH (or in /usr/sbin, /sbin), or undefined. */
export function findCommand(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Can this process create network namespaces? (root alone is not enough in some sandboxes) */
export function canUnshareNet(): boolean {
  if (!isRoot() || !findCommand("unshare")) return false;
  try {
    execFileSync("unshare", ["--net", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface Requirement {
  root?: boolean;
  netns?: boolean;
  commands?: string[];
  paths?: string[];
  /** Modules the system interpreter (/usr/bin/python3) must import, e.g. `grpc` (python3-grpcio). */
  pythonModules?: string[];
}

export const SYSTEM_PYTHON = "/usr/bin/python3";

const importable = new Map<string, boolean>();

/** Can /usr/bin/python3 import this module? (memoised: each check starts an interpreter) */
export function pythonCanImport(module: string): boolean {
  let ok = importable.get(module);
  if (ok === undefined) {
    try {
      execFileSync(SYSTEM_PYTHON, ["-c", `import ${module}`], { stdio: "ignore", timeout: 30_000 });
      ok = true;
    } catch {
      ok = false;
    }
    importable.set(module, ok);
  }
  return ok;
}

/** The reason a requirement is not met, or undefined when everything is there. */
export function missing(req: Requirement): string | undefined {
  if ((req.root || req.netns) && !isRoot()) return "needs root";
  if (req.netns && !canUnshareNet()) return "cannot create network namespaces (unshare --net failed)";
  for (const c of req.commands ?? []) if (!findCommand(c)) return `needs the \`${c}\` command`;
  for (const p of req.paths ?? []) if (!existsSync(p)) return `needs ${p}`;
  for (const m of req.pythonModules ?? []) {
    if (!existsSync(SYSTEM_PYTHON)) return `needs ${SYSTEM_PYTHON}`;
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(m) || !pythonCanImport(m)) {
      return `needs the Python module ${m} for ${SYSTEM_PYTHON} (Debian: python3-${m === "grpc" ? "grpcio" : m})`;
    }
  }
  return undefined;
}

/**
 * Options for `test()`/`describe()`: `{ skip: reason }` when a prerequisite is missing, or
 * `{}` when it is there. Under REQUIRE_PRIVILEGED=1 a missing prerequisite throws instead, so
 * the suite fails loudly in CI rather than passing on skipped tests.
 */
export function requires(req: Requirement): { skip?: string } {
  const reason = missing(req);
  if (!reason) return {};
  if (REQUIRE_PRIVILEGED) {
    throw new Error(`REQUIRE_PRIVILEGED=1 but a prerequisite is missing: ${reason}`);
  }
  return { skip: reason };
}

/** In-test variant: skips the running test with the reason, or fails under REQUIRE_PRIVILEGED. */
export function requireOrSkip(t: TestContext, req: Requirement): boolean {
  const reason = missing(req);
  if (!reason) return true;
  if (REQUIRE_PRIVILEGED) throw new Error(`REQUIRE_PRIVILEGED=1 but a prerequisite is missing: ${reason}`);
  t.skip(reason);
  return false;
}
