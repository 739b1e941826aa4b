// Objects using features Remora does not implement yet get a warning (ANA0004) instead of an all
// clear, so `remora analyze` never suggests that config it ignores will take effect. This table is
// the one place to update when a feature lands (and docs/differences.md with it).
import type { AnalysisContext } from "./context.ts";
import type { RawObject } from "./input.ts";

/** `group/Kind` → what is missing. */
const KINDS: Record<string, string> = {
  "networking.istio.io/EnvoyFilter": "EnvoyFilter patches are not applied",
  "networking.istio.io/WorkloadGroup": "WorkloadGroups (VM auto-registration) are not read",
  "networking.istio.io/ProxyConfig": "ProxyConfig is not read; proxies keep the mesh defaults",
  "security.istio.io/PeerAuthentication":
    "mutual TLS is not enforced yet; traffic between sidecars is plain text",
  "security.istio.io/AuthorizationPolicy": "authorization policies are not enforced yet",
  "security.istio.io/RequestAuthentication": "JWT authentication is not enforced yet",
  "telemetry.istio.io/Telemetry": "Telemetry is not read",
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

/** DestinationRule TLS modes that need Istio's CA or SDS secrets (TR0202). */
function tlsNotImplemented(o: RawObject): string[] {
  const out: string[] = [];
  const tp = (
    (o.value.spec ?? {}) as {
      trafficPolicy?: {
        tls?: { mode?: string; credentialName?: string };
        portLevelSettings?: Array<{ tls?: { mode?: string; credentialName?: string } }>;
      };
    }
  ).trafficPolicy;
  const check = (tls: { mode?: string; credentialName?: string } | undefined, path: string) => {
    if (tls?.mode === "ISTIO_MUTUAL")
      out.push(`${path}.mode: ISTIO_MUTUAL needs the mesh CA, which Remora does not run yet (TR0202)`);
    if (tls?.credentialName)
      out.push(`${path}.credentialName: Secrets are not served to proxies yet (TR0202)`);
  };
  check(tp?.tls, "spec.trafficPolicy.tls");
  (tp?.portLevelSettings ?? []).forEach((p, i) => {
    check(p.tls, `spec.trafficPolicy.portLevelSettings[${i}].tls`);
  });
  return out;
}

export function analyzeNotImplemented(ctx: AnalysisContext): void {
  for (const o of ctx.objects) {
    const what = KINDS[groupKind(o)];
    if (what)
      ctx.emitRaw("NotImplemented", o, undefined, `${o.kind} is not implemented by Remora yet: ${what}.`);
    if (groupKind(o) === "networking.istio.io/DestinationRule") {
      for (const m of tlsNotImplemented(o)) {
        const [path, text] = m.split(": ", 2) as [string, string];
        ctx.emitRaw("NotImplemented", o, path, `Not implemented by Remora yet: ${text}.`);
      }
    }
  }
}
