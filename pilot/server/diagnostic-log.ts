// Logs configuration diagnostics as they come and go: each one once when it appears (at its
// severity) and once when it clears, so a typo in a watched file shows up in the log at the
// moment it is saved, not only in /debug/push_status. A burst (a directory of broken files) is
// capped per update, with a count of what was left out.
import type { Diagnostic } from "../model/diagnostic.ts";
import type { XdsLogger } from "../xds/xds-server.ts";

/** Most diagnostics logged per update; the rest are counted in one line. */
export const MAX_LOGGED_PER_UPDATE = 50;

const keyOf = (d: Diagnostic) =>
  `${d.code}\u0000${d.severity}\u0000${d.message}\u0000${d.ref?.source ?? ""}\u0000${d.path ?? ""}`;

function fields(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    severity: d.severity,
    ...(d.ref
      ? { object: `${d.ref.kind} ${d.ref.namespace ? `${d.ref.namespace}/` : ""}${d.ref.name}` }
      : {}),
    ...(d.ref?.source ? { source: d.ref.source } : {}),
    ...(d.path ? { path: d.path } : {}),
  };
}

export interface DiagnosticLog {
  /** The complete current list; logs what appeared and what cleared since the last call. */
  update(list: readonly Diagnostic[]): void;
}

export function createDiagnosticLog(log: XdsLogger): DiagnosticLog {
  let shown = new Map<string, Diagnostic>();
  return {
    update(list) {
      const now = new Map<string, Diagnostic>();
      for (const d of list) now.set(keyOf(d), d);
      let logged = 0;
      let skipped = 0;
      for (const [k, d] of now) {
        if (shown.has(k)) continue;
        if (logged++ >= MAX_LOGGED_PER_UPDATE) {
          skipped++;
          continue;
        }
        const level = d.severity === "error" ? "error" : d.severity === "warning" ? "warn" : "info";
        log[level](fields(d), d.message);
      }
      let cleared = 0;
      for (const [k, d] of shown) {
        if (now.has(k)) continue;
        if (cleared++ >= MAX_LOGGED_PER_UPDATE) {
          skipped++;
          continue;
        }
        log.info({ ...fields(d), cleared: true }, `resolved: ${d.message}`);
      }
      if (skipped > 0) {
        log.warn({ skipped }, `${skipped} more configuration diagnostic changes; see /debug/push_status`);
      }
      shown = now;
    },
  };
}
