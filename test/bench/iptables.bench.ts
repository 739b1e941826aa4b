// `remora iptables` end to end with the injector's arguments, each run in a fresh network
// namespace, against the floor any Node implementation pays: `node -e 0` plus one
// `iptables-restore --noflush` of the identical rules (also in a fresh namespace), measured
// interleaved in the same run. The CLI runs from an esbuild bundle of pilot/cli/remora.ts, as a
// built image runs it (no tsx). Needs root for namespaces; without it, says so and exits 0.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { bundleCli } from "../../init-iptables/bundle-cli.ts";
import {
  INJECTOR_DEFAULT_ARGS,
  parseCaptureArgs,
  planRules,
  renderRestore,
} from "../../init-iptables/index.ts";
import { missing } from "../helpers/privileged.ts";
import { median, percentile, report, SMOKE } from "./report.ts";

const NAME = "iptables: remora iptables end-to-end, fresh netns, injector args";
const reason = missing({ netns: true, commands: ["ip", "nsenter", "iptables-nft-restore"] });
if (reason) {
  process.stderr.write(`# ${NAME}: skipped (${reason})\n`);
  process.exit(0);
}

const runs = SMOKE ? 3 : 25;
const parsed = parseCaptureArgs(INJECTOR_DEFAULT_ARGS, {});
if (!parsed.config) throw new Error(parsed.errors.join("\n"));
const rules = renderRestore(planRules(parsed.config).v4);

function freshNs(): string {
  const ns = `remora-bench-${randomBytes(4).toString("hex")}`;
  execFileSync("ip", ["netns", "add", ns]);
  execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
  return ns;
}

/** Runs a command inside `ns` (nsenter: setns + exec, no mount-namespace work) and times it. */
function timed(ns: string, cmd: string, args: string[], input?: string): number {
  const t0 = performance.now();
  const r = spawnSync("nsenter", [`--net=/run/netns/${ns}`, "--", cmd, ...args], {
    input: input ?? "",
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return ms;
}

// The bundle is how a built image starts; if bundling fails (some other area's code), fall back
// to tsx and say so, rather than report nothing.
let bundle: Awaited<ReturnType<typeof bundleCli>> | undefined;
let runner = "esbuild bundle of pilot/cli/remora.ts";
let cli: string[];
try {
  bundle = await bundleCli();
  cli = [bundle.entry];
} catch (e) {
  runner = `tsx (bundling failed: ${(e as Error).message.split("\n")[0]})`;
  cli = [
    "--import",
    "tsx",
    join(dirname(fileURLToPath(import.meta.url)), "..", "..", "pilot", "cli", "remora.ts"),
  ];
}
const ours: number[] = [];
const nodeOnly: number[] = [];
const restoreOnly: number[] = [];
const baseline: number[] = [];
try {
  for (let i = 0; i < runs + 1; i++) {
    const a = freshNs();
    const b = freshNs();
    try {
      const o = timed(a, process.execPath, [...cli, "iptables", ...INJECTOR_DEFAULT_ARGS]);
      const n = timed(b, process.execPath, ["-e", "0"]);
      const r = timed(b, "iptables-nft-restore", ["--noflush"], rules);
      if (i === 0) continue; // warm-up: page cache, module loading
      ours.push(o);
      nodeOnly.push(n);
      restoreOnly.push(r);
      baseline.push(n + r);
    } finally {
      spawnSync("ip", ["netns", "del", a]);
      spawnSync("ip", ["netns", "del", b]);
    }
  }
} finally {
  bundle?.remove();
}

report({
  name: NAME,
  ours: Math.round(median(ours) * 10) / 10,
  baseline: Math.round(median(baseline) * 10) / 10,
  unit: "ms",
  runs,
  goal: "ours <= 150 ms, ratio <= 1.5",
  extra: {
    ours_p90: Math.round(percentile(ours, 90) * 10) / 10,
    node_e0_median: Math.round(median(nodeOnly) * 10) / 10,
    restore_median: Math.round(median(restoreOnly) * 10) / 10,
    runner,
  },
});
