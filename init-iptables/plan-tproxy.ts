// The planner's TPROXY part: mark bookkeeping in mangle (CONNMARK save/restore, 1338 for the
// proxy's own-pod traffic) and the loop guards at the top of mangle ISTIO_INBOUND.
import type { CaptureConfig } from "./config.ts";
import { type Builder, INBOUND, OUTBOUND_MARK } from "./plan-builder.ts";

export function planTproxyMarks(b: Builder, cfg: CaptureConfig, loop4: string, loop6: string): void {
  const mark = cfg.tproxyMark;
  // Keep the mark Envoy's original_src listener sets, for the reply path.
  b.a("mangle", "PREROUTING", "-p", "tcp", "-m", "mark", "--mark", mark, "-j", "CONNMARK", "--save-mark");
  b.a("mangle", "OUTPUT", "-p", "tcp", "-o", "lo", "-m", "mark", "--mark", mark, "-j", "RETURN");
  for (const [kind, ids] of [
    ["uid", cfg.proxyUids],
    ["gid", cfg.proxyGids],
  ] as const) {
    for (const id of ids) {
      b.av(
        loop4,
        loop6,
        "mangle",
        "OUTPUT",
        "!",
        "-d",
        "@",
        "-p",
        "tcp",
        "-o",
        "lo",
        "-m",
        "owner",
        `--${kind}-owner`,
        id,
        "-j",
        "MARK",
        "--set-mark",
        OUTBOUND_MARK,
      );
    }
  }
  b.a("mangle", "OUTPUT", "-p", "tcp", "-m", "connmark", "--mark", mark, "-j", "CONNMARK", "--restore-mark");
  b.i("mangle", INBOUND, 1, "-p", "tcp", "-m", "mark", "--mark", mark, "-j", "RETURN");
  b.i4("mangle", INBOUND, 2, "-p", "tcp", "-s", "127.0.0.6/32", "-i", "lo", "-j", "RETURN");
  b.i6("mangle", INBOUND, 2, "-p", "tcp", "-s", "::6/128", "-i", "lo", "-j", "RETURN");
  b.i(
    "mangle",
    INBOUND,
    3,
    "-p",
    "tcp",
    "-i",
    "lo",
    "-m",
    "mark",
    "!",
    "--mark",
    OUTBOUND_MARK,
    "-j",
    "RETURN",
  );
}
