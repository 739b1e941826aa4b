// ServiceEntry analyzers, after istioctl's serviceentry package: a port serving TCP (or an unset
// protocol) on a ServiceEntry without addresses, when neither the ServiceEntry's status nor DNS
// capture with auto-allocation gives it one (IST0134): such traffic cannot be told apart by host;
// and ServiceEntries that give one host and port different protocols where their exportTo scopes
// meet (IST0177): a sidecar that sees both cannot serve the port both ways.
import type { AnalysisContext } from "./context.ts";
import type { RawObject } from "./input.ts";

export function analyzeServiceEntries(ctx: AnalysisContext): void {
  const meta =
    (ctx.input.meshConfig.defaultConfig as { proxyMetadata?: Record<string, string> } | undefined)
      ?.proxyMetadata ?? {};
  const autoAllocated =
    meta.ISTIO_META_DNS_CAPTURE === "true" &&
    (meta.ISTIO_META_DNS_AUTO_ALLOCATE === "true" || meta.PILOT_ENABLE_IP_AUTOALLOCATE === "true");
  if (autoAllocated) return;
  for (const se of ctx.raw("ServiceEntry", "networking.istio.io")) {
    const spec = (se.value.spec ?? {}) as {
      addresses?: unknown[];
      ports?: Array<{ protocol?: string; number?: number }>;
    };
    const status = (se.value.status ?? {}) as { addresses?: unknown[] };
    if (spec.addresses !== undefined || (status.addresses ?? []).length > 0) continue;
    (spec.ports ?? []).forEach((p, i) => {
      const protocol = (p?.protocol ?? "").toUpperCase();
      if (protocol !== "" && protocol !== "TCP") return;
      ctx.emitRaw(
        "ServiceEntryAddressesRequired",
        se,
        `spec.ports[${i}]`,
        `Port ${p?.number ?? "?"} serves ${protocol || "an unset protocol (sniffed)"} without addresses: traffic to it cannot be told apart by host. Add addresses, or enable DNS capture with address auto-allocation.`,
      );
    });
  }
}

/** Where a ServiceEntry is visible: `*` (everywhere) or namespaces, as istioctl groups them. */
function exportScopes(se: RawObject): Set<string> {
  const exportTo = ((se.value.spec ?? {}) as { exportTo?: unknown[] }).exportTo ?? [];
  if (exportTo.length === 0 || exportTo.includes("*")) return new Set(["*"]);
  return new Set(exportTo.map((e) => (e === "." ? se.namespace : String(e))));
}

export function analyzeServiceEntryProtocols(ctx: AnalysisContext): void {
  const index = new Map<string, Array<{ protocol: string; se: RawObject }>>();
  const keyOf = (scope: string, host: string, port: number) => JSON.stringify([scope, host, port]);
  for (const se of ctx.raw("ServiceEntry", "networking.istio.io")) {
    const spec = (se.value.spec ?? {}) as {
      hosts?: unknown[];
      ports?: Array<{ number?: number; protocol?: string } | null>;
    };
    for (const scope of exportScopes(se)) {
      for (const host of spec.hosts ?? []) {
        for (const p of spec.ports ?? []) {
          const k = keyOf(scope, String(host), p?.number ?? 0);
          index.set(k, [...(index.get(k) ?? []), { protocol: (p?.protocol ?? "").toUpperCase(), se }]);
        }
      }
    }
  }
  const reported = new Set<RawObject>();
  for (const [k, own] of index) {
    const [scope, host, port] = JSON.parse(k) as [string, string, number];
    const entries = scope === "*" ? own : [...own, ...(index.get(keyOf("*", host, port)) ?? [])];
    const protocols = [...new Set(entries.map((e) => e.protocol))].sort();
    if (protocols.length < 2) continue;
    const names = [...new Set(entries.map((e) => `${e.se.namespace}/${e.se.name}`))].sort();
    for (const { se } of entries) {
      if (reported.has(se)) continue;
      reported.add(se);
      ctx.emitRaw(
        "ConflictingServiceEntryProtocol",
        se,
        "spec.ports",
        `ServiceEntries ${names.join(", ")} define host ${JSON.stringify(host)} port ${port} with conflicting protocols (${protocols.map((p) => p || "unset").join(", ")}); use one protocol for the port.`,
      );
    }
  }
}
