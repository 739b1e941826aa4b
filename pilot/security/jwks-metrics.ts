// Metrics of the JWKS resolver under istiod's names: fetches that succeeded and failed (each
// discovery document and key set counts once). Read from the resolver when scraped.
import { Counter, type Registry } from "prom-client";
import type { JwksResolver } from "./jwks-resolver.ts";

export function registerJwksMetrics(registry: Registry, resolver: JwksResolver): void {
  const seen = { success: 0, failure: 0 };
  const counter = (name: string, help: string, field: "success" | "failure") =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // Counters only go up: what the resolver counted since the last scrape is added.
        const n = resolver.counters[field];
        if (n > seen[field]) this.inc(n - seen[field]);
        seen[field] = n;
      },
    });
  counter(
    "pilot_jwks_resolver_network_fetch_success_total",
    "JWKS and OpenID discovery documents fetched successfully.",
    "success",
  );
  counter(
    "pilot_jwks_resolver_network_fetch_fail_total",
    "JWKS and OpenID discovery fetches that failed.",
    "failure",
  );
}
