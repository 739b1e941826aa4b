// The argument parser against istio-iptables' conventions: names, forms, env precedence, errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { INJECTOR_DEFAULT_ARGS } from "./config.ts";
import { parseCaptureArgs, parseDuration } from "./parse-args.ts";

function ok(argv: string[], env: Record<string, string> = {}) {
  const r = parseCaptureArgs(argv, env);
  if (r.errors) assert.fail(r.errors.join("\n"));
  return r.config;
}

function errs(argv: string[], env: Record<string, string> = {}): string[] {
  const r = parseCaptureArgs(argv, env);
  assert.ok(r.errors, "expected errors");
  return r.errors;
}

test("the injector's arguments parse to the expected capture", () => {
  const c = ok([...INJECTOR_DEFAULT_ARGS]);
  assert.equal(c.proxyPort, "15001");
  assert.equal(c.inboundCapturePort, "15006");
  assert.equal(c.inboundTunnelPort, "15008");
  assert.deepEqual(c.proxyUids, ["1337"]);
  assert.deepEqual(c.proxyGids, ["1337"]);
  assert.equal(c.mode, "REDIRECT");
  assert.deepEqual(c.outboundCidrs, { all: true });
  assert.deepEqual(c.outboundCidrsExclude, []);
  assert.deepEqual(c.inboundPorts, { all: true });
  assert.deepEqual(c.inboundPortsExclude, ["15090", "15021", "15020"]);
  assert.equal(c.tproxyMark, "1337");
  assert.equal(c.tproxyRouteTable, "133");
  assert.equal(c.probeTimeoutMs, 5000);
  assert.equal(c.probePort, "15002");
});

test("defaults: no inbound and no outbound capture, uid from $ENVOY_USER or 1337", () => {
  const c = ok([]);
  assert.deepEqual(c.inboundPorts, { all: false, items: [] });
  assert.deepEqual(c.outboundCidrs, { all: false, items: [] });
  assert.deepEqual(c.proxyUids, ["1337"]);
  const looked = parseCaptureArgs(
    [],
    { ENVOY_USER: "envoy" },
    { lookupUid: (u) => (u === "envoy" ? "101" : undefined) },
  );
  assert.deepEqual(looked.config?.proxyUids, ["101"]);
  assert.deepEqual(looked.config?.proxyGids, ["101"]);
});

test("long, inline and attached forms, and pflag booleans", () => {
  const c = ok([
    "--envoy-port=15101",
    "-z15106",
    "--proxy-uid",
    "3,4",
    "-g=1,2",
    "--redirect-dns",
    "--drop-invalid=false",
  ]);
  assert.equal(c.proxyPort, "15101");
  assert.equal(c.inboundCapturePort, "15106");
  assert.deepEqual(c.proxyUids, ["3", "4"]);
  assert.deepEqual(c.proxyGids, ["1", "2"]);
  assert.equal(c.redirectDns, true);
  assert.equal(c.dropInvalid, false);
});

test("lists: blanks and trailing commas are dropped; the last occurrence of a flag wins", () => {
  const c = ok(["-d", "6000, 7000,", "-x", "", "-x", "10.0.0.1/32"]);
  assert.deepEqual(c.inboundPortsExclude, ["6000", "7000"]);
  assert.deepEqual(c.outboundCidrsExclude, ["10.0.0.1/32"]);
});

test("environment overrides defaults, flags override the environment", () => {
  const env = {
    ENVOY_PORT: "16001",
    INBOUND_CAPTURE_PORT: "16006",
    ISTIO_INBOUND_INTERCEPTION_MODE: "TPROXY",
    ISTIO_INBOUND_PORTS: "9080",
    ISTIO_SERVICE_CIDR: "10.0.0.0/8",
    ISTIO_META_DNS_CAPTURE: "true",
    INVALID_DROP: "true",
    ISTIO_DUAL_STACK: "true",
    ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: "888,ftp",
  };
  const c = ok(["-p", "17001"], env);
  assert.equal(c.proxyPort, "17001");
  assert.equal(c.inboundCapturePort, "16006");
  assert.equal(c.mode, "TPROXY");
  assert.deepEqual(c.inboundPorts, { all: false, items: ["9080"] });
  assert.deepEqual(c.outboundCidrs, { all: false, items: ["10.0.0.0/8"] });
  assert.equal(c.redirectDns, true);
  assert.equal(c.dropInvalid, true);
  assert.equal(c.dualStack, true);
  assert.deepEqual(c.ownerGroupsExclude, ["888", "ftp"]);
  assert.equal(ok(["--redirect-dns=false"], env).redirectDns, false);
});

test("bad values are rejected with the flag named", () => {
  const e = errs([
    "-p",
    "70000",
    "-m",
    "NAT",
    "-i",
    "10.0.0/8",
    "-x",
    "*",
    "-b",
    "80,abc",
    "-u",
    "root",
    "--probe-timeout",
    "5",
  ]);
  const text = e.join("\n");
  assert.match(text, /--envoy-port: "70000" is not a port/);
  assert.match(text, /--istio-inbound-interception-mode: "NAT" is not a mode/);
  assert.match(text, /--istio-service-cidr: "10.0.0\/8" is not a CIDR/);
  assert.match(text, /--istio-service-exclude-cidr: "\*" is not allowed/);
  assert.match(text, /--istio-inbound-ports: "abc" is not a port/);
  assert.match(text, /--proxy-uid: "root" is not a numeric id/);
  assert.match(text, /--probe-timeout: "5" is not a duration/);
});

test("unknown flags, stray words and missing values are errors", () => {
  assert.match(errs(["--no-such-flag"]).join(), /unknown flag --no-such-flag/);
  assert.match(errs(["-Y", "1"]).join(), /unknown shorthand flag -Y/);
  assert.match(errs(["15001"]).join(), /unexpected argument "15001"/);
  assert.match(errs(["-p"]).join(), /flag --envoy-port needs a value/);
  assert.match(errs(["--dry-run=maybe"]).join(), /--dry-run: "maybe" is not a boolean/);
});

test("owner groups: include and exclude are exclusive", () => {
  const e = errs([], { ISTIO_OUTBOUND_OWNER_GROUPS: "java", ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: "ftp" });
  assert.match(e.join(), /only one of ISTIO_OUTBOUND_OWNER_GROUPS and ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE/);
});

test("Go durations", () => {
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("5"), undefined);
  assert.equal(parseDuration("s"), undefined);
});

test("Istio's logging flags are accepted and ignored", () => {
  const c = ok([
    ...INJECTOR_DEFAULT_ARGS,
    "--log_output_level=default:info",
    "--log_as_json",
    "--log_caller",
    "all",
  ]);
  assert.deepEqual(c.inboundPorts, { all: true });
});

test("--cni-mode: needs --network-namespace; DNS capture then takes all port-53 traffic", () => {
  assert.match(errs(["--cni-mode"]).join("\n"), /--cni-mode: needs --network-namespace/);
  const c = ok(["--cni-mode", "--network-namespace", "/run/netns/pod", "--redirect-dns"]);
  assert.equal(c.cniMode, true);
  assert.equal(c.captureAllDns, true);
  assert.equal(ok(["--redirect-dns"]).captureAllDns, false);
});
