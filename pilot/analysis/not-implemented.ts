// Objects using features Remora does not implement yet get a warning (ANA0004) instead of an all
// clear, so `remora analyze` never suggests that config it ignores will take effect. This table is
// the one place to update when a feature lands (and docs/differences.md with it).
import { type TelemetrySpec, unappliedTelemetrySections } from "../model/telemetry.ts";
import type { AnalysisContext } from "./context.ts";
import type { RawObject } from "./input.ts";

/** `group/Kind` → what is missing. */
const KINDS: Record<string, string> = {
  "networking.istio.io/EnvoyFilter": "EnvoyFilter patches are not applied",
  "networking.istio.io/ProxyConfig": "ProxyConfig is not read; proxies keep the mesh defaults",
  "extensions.istio.io/WasmPlugin": "Wasm plugins are not loaded",
  "extensions.istio.io/TrafficExtension": "traffic extensions are not loaded",
  "gateway.networking.k8s.io/Gateway": "the Kubernetes Gateway API is not implemented",
  "gateway.networking.k8s.io/HTTPRoute": "the Kubernetes Gateway API is not implemented",
  "gateway.networking.k8s.io/GRPCRoute": "the Kubernetes Gateway API is not implemented",
  "gateway.networking.k8s.io/TCPRoute": "the Kubernetes Gateway API is not implemented",
  "gateway.networking.k8s.io/TLSRoute": "the Kubernetes Gateway API is not implemented",
};

const groupKind = (o: RawObject) =>
  `${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}`;

export function analyzeNotImplemented(ctx: AnalysisContext): void {
  for (const o of ctx.objects) {
    const what = KINDS[groupKind(o)];
    if (what)
      ctx.emitRaw("NotImplemented", o, undefined, `${o.kind} is not implemented by Remora yet: ${what}.`);
    // Telemetry: accessLogging is applied, tracing and metrics are not.
    if (groupKind(o) === "telemetry.istio.io/Telemetry") {
      const spec = ((o.value as { spec?: unknown }).spec ?? {}) as TelemetrySpec;
      for (const section of unappliedTelemetrySections(spec))
        ctx.emitRaw(
          "NotImplemented",
          o,
          undefined,
          `Telemetry ${section} is not implemented by Remora yet: only accessLogging is applied.`,
        );
    }
  }
}
