// The DNS table of a sidecar that captures DNS (ISTIO_META_DNS_CAPTURE=true), served without an
// agent: Istio's agent answers captured DNS on 15053 from the name table istiod sends it; here the
// same table goes into Envoy's own DNS filter, on a UDP listener at 127.0.0.1:15053 (where
// `remora iptables --redirect-dns` sends the pod's port-53 traffic). It holds every host the
// proxy can see that has a VIP — its own cluster's cluster IP for a Service, a ServiceEntry's
// `addresses`, else the VIP auto-allocated for it (240.240.0.0/16, as Istio's DNS proxy) — and
// names that are not in it are resolved by Envoy upstream (the pod's resolv.conf servers).
// Wildcard hosts and hosts without a VIP (headless Services, NONE resolution) are not listed.
import { typed } from "../envoy/builders.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import type { Ctx } from "./context.ts";

/** Istio's DNS capture port (the agent's DNS proxy; here Envoy's DNS filter). */
export const DNS_CAPTURE_PORT = 15053;
export const DNS_LISTENER = "dns";
/** What a captured name answers with, and for how long (Istio's DNS proxy uses 30 s). */
const ANSWER_TTL = "30s";

export interface DnsEntry {
  name: string;
  addresses: string[];
}

/** The proxy's DNS table, sorted by name. */
export function dnsTable(ctx: Ctx): DnsEntry[] {
  const out: DnsEntry[] = [];
  for (const s of ctx.scope.services) {
    if (s.hostname.includes("*") || s.addresses.length === 0) continue;
    out.push({ name: s.hostname, addresses: [...s.addresses] });
  }
  return out;
}

/** The UDP listener with Envoy's DNS filter answering from the table. */
export function dnsListener(ctx: Ctx): EnvoyJson {
  const virtualDomains = dnsTable(ctx).map((e) => ({
    name: e.name,
    endpoint: { address_list: { address: e.addresses } },
    answer_ttl: ANSWER_TTL,
  }));
  return {
    name: DNS_LISTENER,
    address: { socket_address: { address: "127.0.0.1", port_value: DNS_CAPTURE_PORT, protocol: "UDP" } },
    listener_filters: [
      {
        name: "envoy.filters.udp.dns_filter",
        typed_config: typed("envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig", {
          stat_prefix: "dns",
          server_config: { inline_dns_table: { virtual_domains: virtualDomains } },
          // Names the table does not hold are resolved upstream, as the agent forwards them.
          client_config: { resolver_timeout: "5s", max_pending_lookups: 256 },
        }),
      },
    ],
    traffic_direction: "OUTBOUND",
  };
}

/**
 * What the DNS filter answers for a query name, from a listener built above: the addresses of an
 * exact (case-insensitive, trailing dot ignored) match, or undefined (resolved upstream).
 */
export function answerFromListener(listener: EnvoyJson, query: string): string[] | undefined {
  const name = query.toLowerCase().replace(/\.$/, "");
  const filter = (listener.listener_filters as EnvoyJson[] | undefined)?.find(
    (f) => f.name === "envoy.filters.udp.dns_filter",
  );
  const domains = ((filter?.typed_config as EnvoyJson | undefined)?.server_config as EnvoyJson | undefined)
    ?.inline_dns_table as {
    virtual_domains?: { name: string; endpoint: { address_list: { address: string[] } } }[];
  };
  const hit = domains?.virtual_domains?.find((d) => d.name.toLowerCase() === name);
  return hit ? [...hit.endpoint.address_list.address] : undefined;
}
