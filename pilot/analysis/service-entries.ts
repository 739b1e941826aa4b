// ServiceEntry analyzers, after istioctl's serviceentry.Analyzer: a port serving TCP (or an unset
// protocol) on a ServiceEntry without addresses, when neither the ServiceEntry's status nor DNS
// capture with auto-allocation gives it one (IST0134): such traffic cannot be told apart by host.
import type { AnalysisContext } from "./context.ts";

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
