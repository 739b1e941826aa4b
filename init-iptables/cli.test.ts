// `remora iptables` as a subprocess: help lists Istio's flag names, dry-run prints the plan,
// bad arguments exit 2 naming the flag; and the command's registration stays light.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runRemora } from "../test/helpers/cli.ts";
import { INJECTOR_DEFAULT_ARGS } from "./config.ts";

test("remora iptables --help lists the istio-iptables flags", async () => {
  const r = await runRemora(["iptables", "--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of [
    "-p, --envoy-port",
    "-z, --inbound-capture-port",
    "-m, --istio-inbound-interception-mode",
    "--redirect-dns",
    "--cleanup-only",
    "$ISTIO_OUTBOUND_OWNER_GROUPS",
  ]) {
    assert.ok(r.stdout.includes(f), `help mentions ${f}`);
  }
});

test("remora iptables -n with the injector's arguments prints the plan", async () => {
  const r = await runRemora(["iptables", ...INJECTOR_DEFAULT_ARGS, "-n"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# IPv4: iptables-restore --noflush\n\* nat\n/);
  assert.match(r.stdout, /-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN/);
});

test("bad values exit 2, name the flag and change nothing", async () => {
  const r = await runRemora(["iptables", "-i", "300.0.0.0/8", "-m", "tproxyy"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nothing was changed/);
  assert.match(r.stderr, /--istio-service-cidr: "300.0.0.0\/8" is not a CIDR/);
  assert.match(r.stderr, /--istio-inbound-interception-mode: "tproxyy" is not a mode/);
});

test("cli.ts loads only the flag table; the implementation is imported lazily", () => {
  const src = readFileSync(join(import.meta.dirname, "cli.ts"), "utf8");
  const statics = [...src.matchAll(/^import\s+(?!type)[^;]*from\s+"([^"]+)"/gm)].map((m) => m[1]);
  assert.deepEqual(statics, ["./flags.ts"]);
  assert.match(src, /await import\("\.\/main\.ts"\)/);
});
