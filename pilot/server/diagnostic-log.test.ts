// The diagnostic log: each diagnostic once when it appears, at its severity, once when it clears,
// nothing while it stays; a burst is capped with a count of the rest.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Diagnostic } from "../model/diagnostic.ts";
import { createDiagnosticLog, MAX_LOGGED_PER_UPDATE } from "./diagnostic-log.ts";

function recorder() {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (o: object, msg: string): void => {
      lines.push(`${level} ${msg}${(o as { cleared?: boolean }).cleared ? " (cleared)" : ""}`);
    };
  return { lines, log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

const d = (code: string, severity: Diagnostic["severity"], message: string): Diagnostic => ({
  code,
  severity,
  message,
});

test("logged once when they appear and once when they clear", () => {
  const { lines, log } = recorder();
  const dl = createDiagnosticLog(log);
  const a = d("CFG0012", "error", "a.yaml: YAML document 1 is invalid");
  const b = d("CFG0017", "warning", "x leads back to .");
  dl.update([a]);
  dl.update([a, b]);
  dl.update([a, b]);
  dl.update([b]);
  dl.update([]);
  assert.deepEqual(lines, [
    "error a.yaml: YAML document 1 is invalid",
    "warn x leads back to .",
    "info resolved: a.yaml: YAML document 1 is invalid (cleared)",
    "info resolved: x leads back to . (cleared)",
  ]);
});

test("a burst is capped and counted", () => {
  const { lines, log } = recorder();
  const dl = createDiagnosticLog(log);
  dl.update(Array.from({ length: MAX_LOGGED_PER_UPDATE + 7 }, (_, i) => d("VS0001", "error", `vs ${i}`)));
  assert.equal(lines.length, MAX_LOGGED_PER_UPDATE + 1);
  assert.match(lines.at(-1) ?? "", /7 more configuration diagnostic changes/);
});
