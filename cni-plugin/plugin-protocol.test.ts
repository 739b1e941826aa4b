// remora-cni against the CNI protocol, without root: error codes for garbage stdin, unsupported
// versions, missing or bad environment and bad configuration; VERSION, DEL, GC and STATUS answers;
// prevResult passed through in the config's version. Results and error results go to stdout as
// one JSON document; logs never do. The bundled executable answers the cases that involve the
// process (stdin, exit code, stdout, stderr, log file) and one of each code; the rest of the code
// table goes through runPlugin in-process, the same function the executable calls.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildPluginBundle } from "./bundle.ts";
import { runProcess } from "./cni-runtime.test-support.ts";
import { createLogger } from "./log.ts";
import { runPlugin } from "./plugin.ts";

let tmp = "";
let bin = "";

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "remora-cni-proto-"));
  bin = (await buildPluginBundle(join(tmp, "bin", "remora-cni"))).path;
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json?: Record<string, unknown>;
}

async function plugin(env: Record<string, string>, stdin: string | Buffer): Promise<Run> {
  const r = await runProcess(bin, [], { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdin);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, ...(r.output ? { json: r.output } : {}) };
}

/** runPlugin in this process, logging to a file (what main() does around it is tested above). */
async function inProcess(env: Record<string, string>, stdin: string): Promise<Run> {
  const r = await runPlugin(env, stdin, createLogger("error", join(tmp, "in-process.log")));
  return {
    code: r.exitCode,
    stdout: r.stdout,
    stderr: "",
    json: JSON.parse(r.stdout) as Record<string, unknown>,
  };
}

const ADD = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c0ffee",
  CNI_NETNS: "/run/netns/none",
  CNI_IFNAME: "eth0",
};
const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "k8s-pod-network",
    type: "remora-cni",
    kubeconfig: "/nonexistent",
    log_file: join(tmp, "in-process.log"),
    ...extra,
  });

async function expectCode(
  env: Record<string, string>,
  stdin: string | Buffer,
  code: number,
  msg?: RegExp,
  via: "executable" | "in-process" = "in-process",
) {
  const r = via === "executable" ? await plugin(env, stdin) : await inProcess(env, stdin.toString());
  assert.equal(r.code, 1, `exit code (stdout ${r.stdout})`);
  assert.equal(r.json?.code, code, r.stdout);
  if (msg) assert.match(`${r.json?.msg} ${r.json?.details ?? ""}`, msg);
  assert.equal(r.stdout.trim().split("\n").length, 1, "one JSON document on stdout");
  return r;
}

describe("error codes", () => {
  test("6: stdin that is not a JSON object, or too large", async () => {
    await expectCode(ADD, "garbage", 6, /unmarshalling network config/, "executable");
    await expectCode(ADD, "[1,2]", 6);
    await expectCode(ADD, "", 6);
    await expectCode(ADD, Buffer.alloc(1024 * 1024 + 10, 0x20), 6, /larger than/, "executable");
  });

  test("7: no network name, or a bad one", async () => {
    await expectCode(ADD, JSON.stringify({ cniVersion: "1.0.0" }), 7, /missing network name/);
    await expectCode(
      ADD,
      JSON.stringify({ cniVersion: "1.0.0", name: "-bad/name" }),
      7,
      /invalid network name/,
    );
  });

  test("1: unknown or unsupported versions, and commands the version predates", async () => {
    await expectCode(ADD, conf({ cniVersion: "2.0.0" }), 1, /plugin supports/, "executable");
    await expectCode(ADD, conf({ cniVersion: "0.2.0" }), 1);
    await expectCode(ADD, conf({ cniVersion: "banana" }), 1);
    await expectCode(ADD, JSON.stringify({ name: "n" }), 1);
    const check = { ...ADD, CNI_COMMAND: "CHECK" };
    await expectCode(check, conf({ cniVersion: "0.3.1" }), 1, /does not allow CHECK/);
    await expectCode({ CNI_COMMAND: "STATUS" }, conf(), 1, /does not allow STATUS/);
    await expectCode({ CNI_COMMAND: "GC" }, conf({ cniVersion: "0.4.0" }), 1, /does not allow GC/);
  });

  test("4: missing or bad environment variables, each named", async () => {
    const r = await expectCode({}, conf(), 4, /CNI_COMMAND/, "executable");
    assert.match(r.stderr, /remora-cni: Remora's chained CNI plugin/);
    await expectCode({ CNI_COMMAND: "FROB" }, conf(), 4, /unknown CNI_COMMAND/);
    await expectCode({ CNI_COMMAND: "ADD" }, conf(), 4, /CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME/);
    await expectCode({ ...ADD, CNI_NETNS: "" }, conf(), 4, /CNI_NETNS/);
    await expectCode({ CNI_COMMAND: "DEL", CNI_IFNAME: "eth0" }, conf(), 4, /CNI_CONTAINERID/);
    await expectCode({ ...ADD, CNI_CONTAINERID: "-leading-dash" }, conf(), 4, /CNI_CONTAINERID/);
    await expectCode({ ...ADD, CNI_IFNAME: "eth/0" }, conf(), 4, /CNI_IFNAME/);
    await expectCode({ ...ADD, CNI_ARGS: "IgnoreUnknown=1;garbage" }, conf(), 4, /CNI_ARGS: invalid pair/);
    const badPod = { ...ADD, CNI_ARGS: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=../../secrets" };
    await expectCode(badPod, conf(), 4, /K8S_POD_NAME/);
  });

  test("7: Remora's fields with the wrong type or value", async () => {
    await expectCode(ADD, conf({ kubeconfig: undefined }), 7, /"kubeconfig" is required/, "executable");
    await expectCode(ADD, conf({ exclude_namespaces: "kube-system" }), 7, /exclude_namespaces/);
    await expectCode(ADD, conf({ log_level: "loud" }), 7, /log_level/);
    await expectCode(ADD, conf({ log_file: "relative.log" }), 7, /log_file/);
    await expectCode(ADD, conf({ pod_lookup_timeout_seconds: -1 }), 7, /pod_lookup_timeout_seconds/);
  });

  test("8: CNI_NETNS that is missing, or is the plugin's own namespace (the node's)", async () => {
    const pod = "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0";
    await expectCode({ ...ADD, CNI_ARGS: pod }, conf(), 8, /cannot be opened/);
    await expectCode(
      { ...ADD, CNI_ARGS: pod, CNI_NETNS: "/proc/self/ns/net" },
      conf(),
      8,
      /own network namespace/,
    );
  });
});

describe("answers", () => {
  test("VERSION echoes the config's version and lists 0.3.0 to 1.1.0", async () => {
    const r = await plugin({ CNI_COMMAND: "VERSION" }, JSON.stringify({ cniVersion: "0.4.0" }));
    assert.equal(r.code, 0);
    assert.deepEqual(r.json, {
      cniVersion: "0.4.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  test("DEL succeeds without a namespace or a pod, again and again, with nothing on stdout", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await plugin({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "c0ffee", CNI_IFNAME: "eth0" }, conf());
      assert.deepEqual([r.code, r.stdout], [0, ""]);
    }
  });

  test("GC succeeds on 1.1.0; STATUS says 50 until the kubeconfig exists", async () => {
    const gc = await plugin(
      { CNI_COMMAND: "GC" },
      conf({ cniVersion: "1.1.0", "cni.dev/valid-attachments": [] }),
    );
    assert.deepEqual([gc.code, gc.stdout], [0, ""]);
    await expectCode(
      { CNI_COMMAND: "STATUS" },
      conf({ cniVersion: "1.1.0" }),
      50,
      /cannot reach the Kubernetes API yet/,
    );
    const kc = join(tmp, "kubeconfig");
    writeFileSync(
      kc,
      JSON.stringify({
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const ok = await plugin({ CNI_COMMAND: "STATUS" }, conf({ cniVersion: "1.1.0", kubeconfig: kc }));
    assert.deepEqual([ok.code, ok.stdout], [0, ""]);
  });

  test("a YAML kubeconfig is read by the YAML parser the executable compiles on first use", async () => {
    const kc = join(tmp, "kubeconfig.yaml");
    const yaml = [
      "current-context: x",
      "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]",
      "users: [{name: u, user: {token: t}}]",
      "contexts: [{name: x, context: {cluster: c, user: u}}]",
    ];
    writeFileSync(kc, `${yaml.join("\n")}\n`);
    const ok = await plugin({ CNI_COMMAND: "STATUS" }, conf({ cniVersion: "1.1.0", kubeconfig: kc }));
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, "", ""]);
    // Broken YAML is a config error naming the file, not a crash of the lazily compiled parser.
    writeFileSync(kc, "clusters: [\n");
    const bad = await plugin({ CNI_COMMAND: "STATUS" }, conf({ cniVersion: "1.1.0", kubeconfig: kc }));
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(String(bad.json?.details ?? bad.json?.msg), /kubeconfig\.yaml/);
  });

  test("ADD outside Kubernetes passes prevResult through, in the config's version", async () => {
    const prev = {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:02", sandbox: "/run/netns/x" }],
      ips: [
        { address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 0 },
        { address: "fd00::2/64", interface: 0 },
      ],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: { nameservers: ["10.96.0.10"] },
    };
    const v1 = await plugin(ADD, conf({ prevResult: prev }));
    assert.equal(v1.code, 0, v1.stdout);
    assert.deepEqual(v1.json, prev);
    const legacy = await plugin(
      ADD,
      conf({ cniVersion: "0.3.1", prevResult: { ...prev, cniVersion: "0.3.1" } }),
    );
    assert.deepEqual(
      ((legacy.json?.ips ?? []) as { version: string }[]).map((i) => i.version),
      ["4", "6"],
    );
    assert.equal(legacy.json?.cniVersion, "0.3.1");
    const none = await plugin(ADD, conf());
    assert.deepEqual(none.json, { cniVersion: "1.0.0", dns: {} });
  });

  test("logs go to log_file when set (never to stdout)", async () => {
    const log = join(tmp, "plugin.log");
    const r = await expectCode(
      ADD,
      conf({ log_file: log, exclude_namespaces: 3 }),
      7,
      undefined,
      "executable",
    );
    assert.doesNotMatch(r.stdout, /remora-cni:/);
    // Config errors are found before the log file is known: they go to stderr.
    assert.match(r.stderr, /exclude_namespaces/);
    const ok = await plugin(
      { ...ADD, CNI_ARGS: "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1" },
      conf({ log_file: log, exclude_namespaces: ["kube-system"], log_level: "debug" }),
    );
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stderr, "");
    assert.match(
      readFileSync(log, "utf8"),
      /info remora-cni ADD kube-system\/coredns-1 c0ffee: namespace kube-system is excluded/,
    );
  });
});
