// Snapshot-level notes on Telemetry objects: their tracing and metrics sections are kept but not
// applied (only accessLogging is translated). They depend on the object alone, so they are
// reported once with the snapshot rather than by every proxy's translation.
import type { ConfigObject } from "../model/config.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { unappliedTelemetrySections } from "../model/telemetry.ts";

export function telemetryDiagnostics(telemetries: readonly ConfigObject<"Telemetry">[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const t of telemetries) {
    for (const section of unappliedTelemetrySections(t.spec)) {
      out.push({
        code: "TR0705",
        severity: "warning",
        message: `Telemetry ${section} is accepted but not applied by Remora (only accessLogging is); proxies get no ${section === "tracing" ? "tracing" : "metrics"} configuration from it`,
        ref: {
          kind: "Telemetry",
          namespace: t.meta.namespace,
          name: t.meta.name,
          ...(t.meta.source ? { source: t.meta.source } : {}),
        },
        path: `spec.${section}`,
      });
    }
  }
  return out;
}
