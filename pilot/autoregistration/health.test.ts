// WorkloadEntry health checks, the pure parts and the status writer: a group's probe becomes an
// HDS HealthCheckSpecifier that encodes strictly as Envoy's message (HTTP path, scheme, headers,
// TCP, gRPC service, timeout, period, thresholds), probes Envoy cannot run are errors that say
// why, Envoy's reports map to healthy/unhealthy (or nothing), and the writer writes the Healthy
// condition on transitions only, newest probe first, retrying conflicts, only for its own entries.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeToJson, encodeJson } from "../envoy/proto.ts";
import { entryHealthy } from "../snapshot/workload-entry-endpoints.ts";
import type { EntryStore } from "./entry-store.ts";
import { groupProbe, healthCheckSpecifier, healthClusterName, verdictOf } from "./health-check.ts";
import { HealthStatusWriter } from "./health-status.ts";
import { type WorkloadEntryObject, workloadEntryFromGroup } from "./workload-entry.ts";

const SPECIFIER = "envoy.service.health.v3.HealthCheckSpecifier";
// biome-ignore lint/suspicious/noExplicitAny: walking decoded proto3 JSON in a test
type Json = any;

function specifierFor(probe: unknown): Json {
  const p = groupProbe({ spec: { probe } });
  assert.ok("probe" in p, JSON.stringify(p));
  const json = healthCheckSpecifier(healthClusterName("shop", "vm-10.0.0.7"), p.probe);
  // Strictly Envoy's message: unknown fields or wrong types would throw here.
  return decodeToJson(SPECIFIER, encodeJson(SPECIFIER, json));
}

describe("specifier from the WorkloadGroup probe", () => {
  test("httpGet: path, headers, Host, 200-399, period, timeout and thresholds", () => {
    const s = specifierFor({
      timeoutSeconds: 2,
      periodSeconds: 7,
      successThreshold: 2,
      failureThreshold: 4,
      httpGet: {
        path: "ready",
        port: 8080,
        httpHeaders: [
          { name: "Host", value: "app.local" },
          { name: "X-Probe", value: "1" },
        ],
      },
    });
    assert.equal(s.interval, "7s");
    const c = s.clusterHealthChecks[0];
    assert.equal(c.clusterName, "workload-health|vm-10.0.0.7.shop");
    assert.deepEqual(c.localityEndpoints[0].endpoints[0].address.socketAddress, {
      address: "127.0.0.1",
      portValue: 8080,
    });
    const hc = c.healthChecks[0];
    assert.equal(hc.timeout, "2s");
    assert.equal(hc.interval, "7s");
    assert.equal(hc.noTrafficInterval, "7s");
    assert.equal(hc.healthyThreshold, 2);
    assert.equal(hc.unhealthyThreshold, 4);
    assert.equal(hc.httpHealthCheck.path, "/ready");
    assert.equal(hc.httpHealthCheck.host, "app.local");
    assert.deepEqual(hc.httpHealthCheck.expectedStatuses, [{ start: "200", end: "400" }]);
    assert.deepEqual(hc.httpHealthCheck.requestHeadersToAdd[0].header, { key: "X-Probe", value: "1" });
    assert.equal(c.transportSocketMatches, undefined);
  });

  test("kubelet's defaults; HTTPS without verification; a host IP is used", () => {
    const s = specifierFor({ httpGet: { port: 8443, scheme: "HTTPS", host: "10.1.2.3" } });
    const c = s.clusterHealthChecks[0];
    const hc = c.healthChecks[0];
    assert.equal(hc.timeout, "1s");
    assert.equal(hc.interval, "10s");
    assert.equal(hc.healthyThreshold, 1);
    assert.equal(hc.unhealthyThreshold, 3);
    assert.equal(hc.httpHealthCheck.path, "/");
    assert.equal(hc.httpHealthCheck.host, "10.1.2.3:8443");
    assert.equal(c.localityEndpoints[0].endpoints[0].address.socketAddress.address, "10.1.2.3");
    assert.equal(c.transportSocketMatches[0].transportSocket.name, "envoy.transport_sockets.tls");
  });

  test("tcpSocket and grpc", () => {
    const tcp = specifierFor({ tcpSocket: { port: 3306 } }).clusterHealthChecks[0].healthChecks[0];
    assert.deepEqual(tcp.tcpHealthCheck, {});
    const grpc = specifierFor({ grpc: { port: 9090, service: "ready" } }).clusterHealthChecks[0]
      .healthChecks[0];
    assert.deepEqual(grpc.grpcHealthCheck, { serviceName: "ready", authority: "127.0.0.1:9090" });
  });

  test("no probe stops the checks; probes Envoy cannot run say why", () => {
    assert.deepEqual(groupProbe({ spec: {} }), { none: true });
    const empty = decodeToJson(
      SPECIFIER,
      encodeJson(SPECIFIER, healthCheckSpecifier("x", undefined)),
    ) as Json;
    assert.equal(empty.clusterHealthChecks, undefined);
    const exec = groupProbe({ spec: { probe: { exec: { command: ["true"] } } } });
    assert.ok(
      "error" in exec &&
        /exec cannot be run/.test(exec.error) &&
        /httpGet, tcpSocket or grpc/.test(exec.error),
    );
    const named = groupProbe({ spec: { probe: { tcpSocket: { port: 80, host: "db.local" } } } });
    assert.ok("error" in named && /not an IP address/.test(named.error));
    const port = groupProbe({ spec: { probe: { httpGet: { port: "http" } } } });
    assert.ok("error" in port && /httpGet\.port must be a port number/.test(port.error));
    const none = groupProbe({ spec: { probe: {} } });
    assert.ok("error" in none && /names no check/.test(none.error));
  });

  test("initialDelaySeconds is kept, bounded", () => {
    const p = groupProbe({ spec: { probe: { initialDelaySeconds: 5000, tcpSocket: { port: 1 } } } });
    assert.ok("probe" in p);
    assert.equal(p.probe.initialDelaySeconds, 300);
  });
});

describe("Envoy's reports", () => {
  const cluster = "workload-health|vm.shop";
  const report = (...statuses: string[]) => ({
    clusterEndpointsHealth: [
      {
        clusterName: "other",
        localityEndpointsHealth: [{ endpointsHealth: [{ healthStatus: "UNHEALTHY" }] }],
      },
      {
        clusterName: cluster,
        localityEndpointsHealth: [{ endpointsHealth: statuses.map((s) => ({ healthStatus: s })) }],
      },
    ],
  });
  test("healthy, unhealthy, nothing yet", () => {
    assert.deepEqual(verdictOf(report("HEALTHY"), cluster), { healthy: true, status: "HEALTHY" });
    assert.deepEqual(verdictOf(report("DEGRADED"), cluster), { healthy: true, status: "DEGRADED" });
    assert.deepEqual(verdictOf(report("TIMEOUT"), cluster), { healthy: false, status: "TIMEOUT" });
    assert.equal(verdictOf(report("UNKNOWN"), cluster), undefined);
    assert.equal(verdictOf(report(), cluster), undefined);
    assert.equal(verdictOf({ clusterEndpointsHealth: [] }, cluster), undefined);
    // The deprecated flat list, when Envoy sends no per-cluster one.
    assert.deepEqual(verdictOf({ endpointsHealth: [{ healthStatus: "UNHEALTHY" }] }, cluster), {
      healthy: false,
      status: "UNHEALTHY",
    });
    for (const bad of [
      undefined,
      null,
      3,
      "x",
      { clusterEndpointsHealth: "x" },
      { clusterEndpointsHealth: [null] },
    ])
      assert.equal(verdictOf(bad, cluster), undefined);
  });
});

describe("entry health as the snapshot reads it (Istio's isHealthy)", () => {
  const on = { "proxy.istio.io/health-checks-enabled": "true" };
  const cond = (status: string) => ({ conditions: [{ type: "Healthy", status }] });
  test("checked entries wait for Healthy: True; others are healthy", () => {
    assert.equal(entryHealthy({}, undefined), true);
    assert.equal(entryHealthy({ "proxy.istio.io/health-checks-enabled": "false" }, undefined), true);
    assert.equal(entryHealthy({ "proxy.istio.io/health-checks-enabled": "yes" }, undefined), true);
    assert.equal(entryHealthy(on, undefined), false);
    assert.equal(entryHealthy(on, cond("False")), false);
    assert.equal(entryHealthy(on, cond("True")), true);
    assert.equal(entryHealthy({ "proxy.istio.io/health-checks-enabled": "1" }, cond("True")), true);
    assert.equal(entryHealthy(on, { conditions: "x" }), false);
  });
  test("auto-registration marks entries of a group with a probe", () => {
    const proxy = { ipAddresses: ["10.0.0.7"], namespace: "shop", labels: {}, locality: {} } as never;
    const group = (probe?: unknown) => ({
      metadata: { name: "wg", namespace: "shop" },
      spec: { template: {}, ...(probe ? { probe } : {}) },
    });
    assert.equal(
      workloadEntryFromGroup("e", proxy, group({ tcpSocket: { port: 1 } })).metadata.annotations?.[
        "proxy.istio.io/health-checks-enabled"
      ],
      "true",
    );
    assert.equal(
      workloadEntryFromGroup("e", proxy, group()).metadata.annotations?.[
        "proxy.istio.io/health-checks-enabled"
      ],
      undefined,
    );
  });
});

/** getEntry and replaceEntryStatus over one entry, with resourceVersions and injected failures. */
class StatusStore {
  entry: WorkloadEntryObject | undefined;
  writes = 0;
  gets = 0;
  failNext: number[] = [];
  constructor(controller?: string) {
    this.entry = {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntry",
      metadata: {
        name: "vm",
        namespace: "shop",
        resourceVersion: "1",
        annotations: controller ? { "istio.io/workloadController": controller } : {},
      },
      spec: { address: "10.0.0.7" },
    };
  }
  asStore(): EntryStore {
    const unused = () => Promise.reject(new Error("not used"));
    return {
      getGroup: unused,
      createEntry: unused,
      replaceEntry: unused,
      deleteEntry: unused,
      getEntry: async () => {
        this.gets++;
        return this.entry ? structuredClone(this.entry) : undefined;
      },
      replaceEntryStatus: async (e) => {
        const fail = this.failNext.shift();
        if (fail) throw Object.assign(new Error(`status ${fail}`), { status: fail });
        if (!this.entry || e.metadata.resourceVersion !== this.entry.metadata.resourceVersion)
          throw Object.assign(new Error("conflict"), { status: 409 });
        this.writes++;
        const rv = String(Number(this.entry.metadata.resourceVersion) + 1);
        this.entry = {
          ...this.entry,
          status: e.status as never,
          metadata: { ...this.entry.metadata, resourceVersion: rv },
        };
        return structuredClone(this.entry);
      },
    };
  }
  get condition(): Json {
    return (this.entry?.status?.conditions as Json[] | undefined)?.find((c) => c.type === "Healthy");
  }
}

const silent = { info() {}, warn() {} };
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const report = (healthy: boolean, s: number) => ({
  namespace: "shop",
  name: "vm",
  healthy,
  message: healthy ? "" : "Envoy's TCP connect to 127.0.0.1:1 reported UNHEALTHY",
  probeTime: at(s),
});

describe("the Healthy condition writer", () => {
  test("writes on transitions only, with probe and transition times and a message when unhealthy", async () => {
    const s = new StatusStore("pilot-0");
    const w = new HealthStatusWriter(s.asStore(), "pilot-0", silent, 1);
    w.report(report(true, 1));
    await w.settled();
    assert.deepEqual(s.condition, {
      type: "Healthy",
      status: "True",
      lastProbeTime: at(1).toISOString(),
      lastTransitionTime: at(1).toISOString(),
    });
    const gets = s.gets;
    for (let i = 2; i < 10; i++) w.report(report(true, i));
    await w.settled();
    assert.equal(s.writes, 1, "repeats write nothing");
    assert.equal(s.gets, gets, "repeats read nothing either");
    w.report(report(false, 10));
    await w.settled();
    const unhealthy: Json = s.condition;
    assert.equal(unhealthy.status, "False");
    assert.match(unhealthy.message, /reported UNHEALTHY/);
    assert.equal(s.writes, 2);
    assert.deepEqual(w.diagnostics(), []);
  });

  test("an older probe never overwrites a newer one; conflicts and failures are retried", async () => {
    const s = new StatusStore();
    const w = new HealthStatusWriter(s.asStore(), "pilot-0", silent, 1);
    w.report(report(false, 20));
    await w.settled();
    w.report(report(true, 5));
    await w.settled();
    assert.equal(s.condition.status, "False");
    s.failNext = [409, 500];
    w.report(report(true, 30));
    await w.settled();
    assert.equal(s.condition.status, "True");
    // Failing every time: a diagnostic, nothing thrown, the next report tries again.
    s.failNext = [500, 500, 500, 500];
    w.report(report(false, 40));
    await w.settled();
    assert.equal(s.condition.status, "True");
    assert.equal(w.diagnostics()[0]?.code, "VM0005");
    w.report(report(false, 41));
    await w.settled();
    assert.equal(s.condition.status, "False");
    assert.deepEqual(w.diagnostics(), []);
  });

  test("another replica's entry is left alone; a missing entry is a diagnostic", async () => {
    const s = new StatusStore("pilot-1");
    const w = new HealthStatusWriter(s.asStore(), "pilot-0", silent, 1);
    w.report(report(true, 1));
    await w.settled();
    assert.equal(s.writes, 0);
    s.entry = undefined;
    w.report(report(false, 2));
    await w.settled();
    assert.match(w.diagnostics()[0]?.message ?? "", /does not exist/);
  });
});
