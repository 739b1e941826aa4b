// `remora cni install`: golden tests on real-shaped CNI config directories (testdata/install/<case>:
// in/ is the node's net.d before, expected.txt the directories after install, the log, and the
// directories after uninstall), a second pass that changes nothing, and a watch test where the
// primary CNI rewrites or deletes its config, the binary goes missing and the token rotates.
import assert from "node:assert/strict";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type CniNodeSettings, defaultCniNodeSettings } from "../injector/index.ts";
import { assertGolden, goldenCases } from "../test/helpers/golden.ts";
import { until } from "../test/helpers/wait.ts";
import { CniInstaller } from "./installer.ts";

const CASES = join(import.meta.dirname, "testdata", "install");
const CREDS = {
  server: "https://10.96.0.1:443",
  caPem: "-----BEGIN CERTIFICATE-----\nZmFrZSBjbHVzdGVyIENB\n-----END CERTIFICATE-----\n",
  token: "fake-service-account-token",
};
const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

interface Node {
  root: string;
  netDir: string;
  binDir: string;
  plugin: string;
  nodeBinary: string;
  log: string[];
}

function fakeNode(): Node {
  const root = mkdtempSync(join(tmpdir(), "remora-cni-install-"));
  temps.push(root);
  const n = {
    root,
    netDir: join(root, "net.d"),
    binDir: join(root, "bin"),
    plugin: join(root, "src", "remora-cni"),
    nodeBinary: join(root, "src", "node"),
    log: [] as string[],
  };
  for (const d of [n.netDir, n.binDir, join(root, "src")]) mkdirSync(d, { recursive: true });
  writeFileSync(n.plugin, '#!/usr/bin/env node\n"use strict";require("./the-plugin");\n');
  writeFileSync(n.nodeBinary, "ELF pretend node\n");
  return n;
}

function installer(n: Node, settings: Partial<CniNodeSettings> = {}, shipNode = true, creds = () => CREDS) {
  return new CniInstaller({
    settings: { ...defaultCniNodeSettings(), cniBinDir: n.binDir, cniNetDir: n.netDir, ...settings },
    pluginBinary: n.plugin,
    nodeBinary: shipNode ? n.nodeBinary : "",
    credentials: creds,
    credentialDirs: [],
    log: (l) => n.log.push(l),
    resyncMs: 200,
  });
}

/** A directory as text: each file's name, mode and content (binaries by size). */
function dump(dir: string, binaries: string[] = []): string {
  const names = readdirSync(dir).sort();
  if (names.length === 0) return "(empty)\n";
  return names
    .map((name) => {
      const st = statSync(join(dir, name));
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      if (binaries.includes(name)) return `--- ${name} (${mode}, ${st.size} bytes)\n`;
      const text = readFileSync(join(dir, name), "utf8");
      return `--- ${name} (${mode})\n${text}${text.endsWith("\n") ? "" : "\n(no newline at the end)\n"}`;
    })
    .join("");
}

describe("installer golden cases", () => {
  for (const name of goldenCases(CASES)) {
    test(name, () => {
      const n = fakeNode();
      cpSync(join(CASES, name, "in"), n.netDir, { recursive: true });
      const optsPath = join(CASES, name, "options.json");
      const opts = JSON.parse(
        statSync(optsPath, { throwIfNoEntry: false }) ? readFileSync(optsPath, "utf8") : "{}",
      ) as { settings?: Partial<CniNodeSettings>; modes?: Record<string, string>; nodeBinary?: boolean };
      for (const [f, m] of Object.entries(opts.modes ?? {}))
        chmodSync(join(n.netDir, f), Number.parseInt(m, 8));
      const inst = installer(n, opts.settings, opts.nodeBinary !== false);
      const state = inst.reconcile();
      let out = `== ready: ${state.ready}${state.waiting.length ? ` (${state.waiting.join("; ").replaceAll(n.root, "<node>")})` : ""}\n`;
      out += `== net.d after install\n${dump(n.netDir)}== bin after install\n${dump(n.binDir, ["remora-cni-node"])}`;
      out += `== log\n${n.log.map((l) => `${l.replaceAll(n.root, "<node>")}\n`).join("")}`;
      const again = inst.reconcile();
      assert.deepEqual(again.changed, [], "a second pass must change nothing");
      n.log.length = 0;
      inst.uninstall();
      out += `== net.d after uninstall\n${dump(n.netDir)}== bin after uninstall\n${dump(n.binDir)}`;
      out += `== log\n${n.log.map((l) => `${l}\n`).join("")}`;
      assertGolden(join(CASES, name, "expected.txt"), out);
    });
  }
});

describe("installer watch", () => {
  test("puts its entry, binary and kubeconfig back when the primary CNI or anyone else changes them", async () => {
    const n = fakeNode();
    const conflist = join(n.netDir, "10-calico.conflist");
    const primary = (v: string) =>
      `{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[{"type":"calico","v":"${v}"}]}`;
    writeFileSync(conflist, primary("1"));
    let token = "token-1";
    const inst = installer(n, {}, true, () => ({ ...CREDS, token }));
    const types = () => {
      try {
        return (JSON.parse(readFileSync(conflist, "utf8")) as { plugins: { type: string; v?: string }[] })
          .plugins;
      } catch {
        return [];
      }
    };
    inst.start();
    try {
      assert.ok(inst.state.ready, inst.state.waiting.join("; "));
      assert.deepEqual(
        types().map((p) => p.type),
        ["calico", "remora-cni"],
      );

      // The primary CNI rewrites its file without us.
      writeFileSync(conflist, primary("2"));
      await until(
        async () => types().at(-1)?.type === "remora-cni",
        "entry restored after a rewrite",
        10_000,
      );
      assert.equal(types()[0]?.v, "2", "the primary's new content is kept");

      // It deletes the file, then writes it again later.
      rmSync(conflist);
      await until(async () => !inst.state.ready, "not ready without a primary config", 10_000);
      writeFileSync(conflist, primary("3"));
      await until(
        async () => types().at(-1)?.type === "remora-cni" && inst.state.ready,
        "entry restored",
        10_000,
      );

      // The plugin binary disappears; the token rotates.
      rmSync(join(n.binDir, "remora-cni"));
      await until(
        async () => statSync(join(n.binDir, "remora-cni"), { throwIfNoEntry: false }) !== undefined,
        "binary back",
        10_000,
      );
      token = "token-2";
      await until(
        async () => readFileSync(join(n.netDir, "ZZZ-remora-cni-kubeconfig"), "utf8").includes("token-2"),
        "kubeconfig rewritten with the rotated token",
        10_000,
      );
    } finally {
      inst.stop();
    }
    inst.uninstall();
    assert.deepEqual(
      types().map((p) => p.type),
      ["calico"],
    );
    assert.deepEqual(readdirSync(n.binDir), []);
    assert.deepEqual(readdirSync(n.netDir), ["10-calico.conflist"]);
  });
});
