// End to end with two independent xDS implementations side by side: gRPC C-core (Debian's
// python3-grpcio, driven through test/helpers/grpc-core-peer.ts) and grpc-js-xds, both as
// proxyless clients of a real `remora pilot --config-dir`, calling grpc-js echo backends on
// loopback. C-core validates resources more strictly than grpc-js in places, so every scenario
// here must hold for both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import {
  type Backend,
  calls,
  echoDestinationRule,
  echoServiceEntry,
  echoVirtualService,
  share,
  startBackend,
  xdsBootstrap,
  xdsClient,
} from "../helpers/echo-grpc.ts";
import {
  type CoreClient,
  freePort,
  GRPC_CORE,
  startCoreClient,
  startCoreServer,
} from "../helpers/grpc-core-peer.ts";
import { converged, metricValue, type Pilot, startPilot, stopPilot } from "../helpers/pilot-process.ts";
import { requires } from "../helpers/privileged.ts";
import { until } from "../helpers/wait.ts";

const SE_HOST = "echo.default.svc.cluster.local";
const KUBE_HOST = "kecho.default.svc.cluster.local";
const PORT = 7070;

/** The echo ServiceEntry; `dup` is listed a second time (as a hand-written or generated SE may). */
const serviceEntry = (backends: Backend[], dup?: Backend) =>
  echoServiceEntry(SE_HOST, PORT, dup ? [...backends, dup] : backends);
const destinationRule = (outlierDetection = "") =>
  echoDestinationRule(SE_HOST, ["v1", "v2"], outlierDetection);
const virtualService = (http: string) => echoVirtualService(SE_HOST, http);

/** A Kubernetes Service whose two EndpointSlices overlap (a pod moving between slices). */
function kubeService(a: Backend): string {
  const slice = (name: string, backends: Backend[]) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: default
  labels: {kubernetes.io/service-name: kecho}
addressType: IPv4
ports:
${backends.map((x) => `- {name: grpc, port: ${x.port}}`).join("\n")}
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
`;
  return `apiVersion: v1
kind: Service
metadata: {name: kecho, namespace: default}
spec:
  clusterIP: 10.96.7.7
  ports:
  - {name: grpc, port: ${PORT}, targetPort: ${a.port}}
${slice("kecho-abc", [a])}${slice("kecho-def", [a])}`.replace(/\n\n/g, "\n");
}

/** Versions answered, per client kind, for `n` calls each. */
async function versions(
  js: grpc.Client,
  core: CoreClient,
  n: number,
): Promise<{ js: (string | undefined)[]; core: (string | undefined)[]; failures: string[] }> {
  const jsResults = await calls(js, n);
  const coreResults = await core.calls({ count: n, concurrency: 10 });
  const failures = [
    ...jsResults.filter((r) => r.code !== 0).map((r) => `grpc-js: status ${r.code}`),
    ...coreResults.filter((r) => r.code !== "OK").map((r) => `c-core: ${r.code} ${r.details ?? ""}`),
  ];
  return {
    js: jsResults.map((r) => r.version),
    core: coreResults.map((r) => r.reply?.version),
    failures,
  };
}

/** Waits until `n` calls from each client all succeed; the error names a failure and a log. */
async function untilAllSucceed(
  js: grpc.Client,
  core: CoreClient,
  n: number,
  what: string,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  let last: Awaited<ReturnType<typeof versions>> | undefined;
  await until(
    async () => {
      last = await versions(js, core, n);
      return last.failures.length === 0;
    },
    what,
    timeoutMs,
  ).catch((err) => {
    const f = last?.failures ?? [];
    throw new Error(`${(err as Error).message}: ${f.length} failures, e.g. ${f[0]}\n${log()}`);
  });
}

describe("gRPC C-core and grpc-js-xds clients through remora pilot", requires(GRPC_CORE), () => {
  let dir: string;
  let v1: Backend;
  let v2: Backend;
  let pilot: Pilot;
  let version: string | undefined;
  const clients: { js: grpc.Client; core: CoreClient }[] = [];

  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);

  async function clientsFor(host: string) {
    const target = `xds:///${host}:${PORT}`;
    const js = xdsClient(pilot.grpcPort, target);
    const core = await startCoreClient(target, xdsBootstrap(pilot.grpcPort, { name: "core" }));
    clients.push({ js, core });
    return { js, core };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-core-e2e-"));
    v1 = await startBackend("v1");
    v2 = await startBackend("v2");
    write("se.yaml", serviceEntry([v1, v2], v1));
    write("kube.yaml", kubeService(v1));
    write("dr.yaml", destinationRule());
    pilot = await startPilot(dir);
    version = await converged(pilot, undefined);
  });

  after(async () => {
    for (const c of clients) {
      c.js.close();
      await c.core.close();
    }
    await stopPilot(pilot);
    v1?.server.forceShutdown();
    v2?.server.forceShutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("an address listed twice (ServiceEntry, overlapping EndpointSlices) is served once and reachable", async () => {
    for (const host of [SE_HOST, KUBE_HOST]) {
      const { js, core } = await clientsFor(host);
      await untilAllSucceed(js, core, 10, `calls to ${host} succeed from both clients`, 20_000, () =>
        core.log(),
      );
      const want = host === SE_HOST ? ["v1", "v2"] : ["v1"];
      const seen = await versions(js, core, 40);
      assert.deepEqual(seen.failures, []);
      assert.deepEqual([...new Set(seen.js)].sort(), want, `grpc-js reaches ${want} on ${host}`);
      assert.deepEqual([...new Set(seen.core)].sort(), want, `c-core reaches ${want} on ${host}`);
    }
    assert.equal(await metricValue(pilot, "pilot_total_xds_rejects"), 0, "no client rejected anything");
  });

  test("a weighted route splits traffic 80/20 for both implementations", async () => {
    write(
      "vs.yaml",
      virtualService(`  - route:
    - destination: {host: ${SE_HOST}, subset: v1}
      weight: 80
    - destination: {host: ${SE_HOST}, subset: v2}
      weight: 20
`),
    );
    version = await converged(pilot, version);
    const { js, core } = clients[0] ?? (await clientsFor(SE_HOST));
    const seen = await versions(js, core, 400);
    assert.deepEqual(seen.failures, []);
    // 400 calls at p=0.2: sd ≈ 2 %; ±8 % is a 4-sigma tolerance.
    for (const [who, list] of [
      ["grpc-js", seen.js],
      ["c-core", seen.core],
    ] as const) {
      const v2share = share(list, (v) => v === "v2");
      assert.ok(Math.abs(v2share - 0.2) <= 0.08, `${who}: v2 share ${v2share} not within 0.20 ± 0.08`);
    }
  });

  test("a route matching on query parameters is not taken by gRPC calls (they have none)", async () => {
    write(
      "vs.yaml",
      virtualService(`  - match: [{queryParams: {beta: {exact: "1"}}}]
    route: [{destination: {host: ${SE_HOST}, subset: v2}}]
  - route: [{destination: {host: ${SE_HOST}, subset: v1}}]
`),
    );
    version = await converged(pilot, version);
    const { js, core } = clients[0] ?? (await clientsFor(SE_HOST));
    const seen = await versions(js, core, 40);
    assert.deepEqual(seen.failures, []);
    assert.deepEqual([...new Set(seen.js)], ["v1"], "grpc-js (which ignores query matchers) stays on v1");
    assert.deepEqual([...new Set(seen.core)], ["v1"], "c-core stays on v1");
  });

  test("outlier detection ejects a failing endpoint among fewer than five", async () => {
    const bad = await startBackend("bad");
    bad.failing = true;
    try {
      write("se.yaml", serviceEntry([v1, v2, bad]));
      // Istio's semantics: 2 consecutive errors eject a host, however few hosts there are.
      write("dr.yaml", destinationRule("{consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 60s}"));
      rmSync(join(dir, "vs.yaml"), { force: true });
      version = await converged(pilot, version);
      const { js, core } = clients[0] ?? (await clientsFor(SE_HOST));
      // Calls during a few detection intervals, then none may fail: the bad host is out.
      await untilAllSucceed(js, core, 30, "the failing endpoint is ejected by both clients", 20_000, () =>
        core.log(),
      );
      const after = await versions(js, core, 60);
      assert.deepEqual(after.failures, [], "no call reaches the ejected endpoint");
      assert.deepEqual([...new Set([...after.js, ...after.core])].sort(), ["v1", "v2"]);
    } finally {
      bad.server.forceShutdown();
      write("se.yaml", serviceEntry([v1, v2]));
      write("dr.yaml", destinationRule());
      version = await converged(pilot, version);
    }
  });

  test("a C-core xDS-enabled server takes its listener from pilot and serves both clients", async () => {
    const port = await freePort();
    const host = "srv.default.svc.cluster.local";
    write("srv.yaml", echoServiceEntry(host, PORT, [{ port, version: "core-server" }], "srv"));
    version = await converged(pilot, version);
    // The server's node is at 127.0.0.1, where the ServiceEntry's endpoint is: pilot sends it
    // xds.istio.io/grpc/lds/inbound/0.0.0.0:<port>, and C-core serves once that arrives.
    const server = await startCoreServer("core-server", {
      port,
      xds: { bootstrap: xdsBootstrap(pilot.grpcPort, { name: "server" }) },
    });
    try {
      const { js, core } = await clientsFor(host);
      await untilAllSucceed(js, core, 5, "the xDS server answers", 30_000, () => server.log());
      const seen = await versions(js, core, 10);
      assert.deepEqual([...new Set([...seen.js, ...seen.core])], ["core-server"]);
    } finally {
      await server.close();
      rmSync(join(dir, "srv.yaml"), { force: true });
      version = await converged(pilot, version);
    }
  });
});
