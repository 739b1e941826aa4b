// Prometheus metrics of the injection webhook, on a registry of its own (never the global one, so
// several servers can live in one process). Names follow Istio's `sidecar_injection_*` family so
// existing dashboards keep working; `sidecar_injection_result_total` adds the reason code.
import { Counter, Histogram, Registry } from "prom-client";
import type { Outcome } from "./admission.ts";

export interface WebhookMetrics {
  registry: Registry;
  observe(outcome: Outcome, seconds: number): void;
  /** A request refused before it reached the review (415, 413, 400 from the HTTP layer). */
  refused(type: string): void;
}

export function createWebhookMetrics(revision = "default"): WebhookMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ revision });
  const requests = new Counter({
    name: "sidecar_injection_requests_total",
    help: "Injection requests received.",
    registers: [registry],
  });
  const success = new Counter({
    name: "sidecar_injection_success_total",
    help: "Requests answered with an injected pod.",
    registers: [registry],
  });
  const skip = new Counter({
    name: "sidecar_injection_skip_total",
    help: "Requests where injection was skipped, by reason.",
    labelNames: ["reason"],
    registers: [registry],
  });
  const failure = new Counter({
    name: "sidecar_injection_failure_total",
    help: "Requests that failed or were rejected, by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const results = new Counter({
    name: "sidecar_injection_result_total",
    help: "Injection results by result (injected, skipped, rejected, error) and reason code.",
    labelNames: ["result", "reason"],
    registers: [registry],
  });
  const time = new Histogram({
    name: "sidecar_injection_time_seconds",
    help: "Time spent answering an injection request, from parsed body to serialised answer.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    observe(outcome, seconds) {
      requests.inc();
      results.inc({ result: outcome.result, reason: outcome.reason });
      if (outcome.result === "injected") success.inc();
      else if (outcome.result === "skipped") skip.inc({ reason: outcome.reason });
      else failure.inc({ type: outcome.reason });
      time.observe(seconds);
    },
    refused(type) {
      requests.inc();
      results.inc({ result: "error", reason: type });
      failure.inc({ type });
    },
  };
}
