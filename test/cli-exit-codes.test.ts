// Exit codes are the same for every subcommand: 2 for a wrong command line, 1 for a command that
// ran and failed, 0 for help. The walk covers every registered command, so a new one is checked
// without being listed here. Usage errors are found before any action runs, so the walk is done
// in-process; a few subprocess runs check the codes the shell really sees.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Command } from "commander";
import { allCommands, buildProgram, isRequiredOption, runCli } from "../pilot/cli/remora.ts";
import { runRemora } from "./helpers/cli.ts";

interface Run {
  code: number;
  out: string;
}

/** Runs the CLI in-process, capturing what commander and the CLI layer print. */
async function cli(...args: string[]): Promise<Run> {
  let out = "";
  const sink = { write: (s: string) => (out += s) };
  const code = await runCli(["node", "remora", ...args], { out: sink, err: sink });
  return { code, out };
}

const program = buildProgram();

/** `remora iptables` reads istio-iptables flags itself (commander passes them through). */
function ownFlags(cmd: Command): boolean {
  return cmd.name() === "iptables";
}
const leaves = allCommands(program)
  .filter((c) => c.commands.length === 0)
  .map((c) => {
    const path: string[] = [];
    for (let p: typeof c | null = c; p && p !== program; p = p.parent) path.unshift(p.name());
    return { cmd: c, path };
  });

describe("every subcommand", () => {
  test("the walk finds the commands", () => {
    const names = leaves.map((l) => l.path.join(" "));
    for (const n of [
      "serve",
      "pilot",
      "injector",
      "kube-inject",
      "translate",
      "proxy-config",
      "manifest generate",
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
  });

  for (const { cmd, path } of leaves) {
    const name = path.join(" ");
    test(`${name}: an unknown option is reported as unknown, exit 2`, async () => {
      // Required options and arguments are left out on purpose: the unknown option must still be
      // the complaint.
      const r = await cli(...path, "--no-such-option");
      assert.equal(r.code, 2, r.out);
      // Commands that parse their own flags (iptables) print through their own stream.
      if (!ownFlags(cmd)) assert.match(r.out, /unknown option '--no-such-option'/);
    });

    test(`${name}: --help exits 0`, async () => {
      const r = await cli(...path, "--help");
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /Usage: |usage: /i);
    });

    const needsArgs = cmd.registeredArguments.some((a) => a.required);
    const needsOptions = cmd.options.some((o) => isRequiredOption(o));
    if (needsArgs || needsOptions) {
      test(`${name}: a missing argument or required option exits 2`, async () => {
        const r = await cli(...path);
        assert.equal(r.code, 2, r.out);
        assert.match(r.out, /missing required argument|required option/);
      });
    }
  }
});

describe("the program", () => {
  test("an unknown command, a missing subcommand and a bad option value exit 2", async () => {
    const unknown = await cli("no-such-command");
    assert.equal(unknown.code, 2, unknown.out);
    assert.match(unknown.out, /unknown command 'no-such-command'/);
    assert.equal((await cli("manifest")).code, 2);
    const badPort = await cli("serve", "--grpc-port", "abc");
    assert.equal(badPort.code, 2, badPort.out);
    assert.match(badPort.out, /--grpc-port.*"abc" is not a port/);
  });

  test("--version and help exit 0", async () => {
    assert.equal((await cli("--version")).code, 0);
    assert.equal((await cli("help")).code, 0);
    assert.equal((await cli("help", "translate")).code, 0);
  });

  test("conflicting options found by an action are usage errors too", async () => {
    const r = await cli("serve", "--config-dir", "samples", "--kubeconfig", "kc.yaml");
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /either --config-dir or --kubeconfig/);
  });

  test("a file flag naming a directory is a usage error that names the flag", async () => {
    const r = await cli("pilot", "--config-dir", "samples", "--mesh-config", "samples");
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /--mesh-config samples: is a directory, not a file/);
    const bad = await cli("proxy-status", "--pilot", "http://");
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /pilot address "http:\/\/" is not host:port or http:\/\/host:port/);
  });

  test("the shell sees the same codes (subprocess)", async () => {
    const usage = await runRemora(["translate", "--bogus"]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /unknown option '--bogus'/);
    const flag = await runRemora(["iptables", "--no-such-option"]);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /unknown flag --no-such-option/);
    const failure = await runRemora(["proxy-status", "--pilot", "http://127.0.0.1:9"]);
    assert.equal(failure.code, 1, failure.stderr);
    assert.match(failure.stderr, /cannot reach pilot at http:\/\/127\.0\.0\.1:9/);
  });
});
