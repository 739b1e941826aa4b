// End to end with real clients: `remora pilot --config-dir` as a subprocess, proxyless gRPC
// clients from @grpc/grpc-js-xds (an xDS implementation we did not write) bootstrapped at it, and
// plain grpc-js servers on loopback as the endpoints of a ServiceEntry. Every assertion is on real
// calls. Config changes are made by rewriting files while the clients keep their channels.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { proxyConfig } from "../../pilot/debug/proxy-config.ts";
import { proxyStatus } from "../../pilot/debug/proxy-status.ts";
import { AdsClient, RDS } from "../helpers/ads-client.ts";
import { runRemora } from "../helpers/cli.ts";
import {
  type Backend,
  call,
  calls,
  echoDestinationRule,
  echoServiceEntry,
  echoVirtualService,
  share,
  startBackend,
  xdsClient,
} from "../helpers/echo-grpc.ts";
import {
  converged,
  getJson,
  metricValue,
  type Pilot,
  startPilot,
  stopPilot,
} from "../helpers/pilot-process.ts";
import { until } from "../helpers/wait.ts";

const HOST = "echo.default.svc.cluster.local";
const PORT = 7070;
const TARGET = `xds:///${HOST}:${PORT}`;

const serviceEntry = (backends: Backend[]) => echoServiceEntry(HOST, PORT, backends);
const destinationRule = (versions: string[]) => echoDestinationRule(HOST, versions);
const virtualService = (http: string) => echoVirtualService(HOST, http);

// ---- the tests ------------------------------------------------------------------------------

describe("grpc-js-xds clients through remora pilot", () => {
  let dir: string;
  let v1: Backend;
  let v2: Backend;
  let pilot: Pilot;
  let client: grpc.Client;
  let version: string | undefined;

  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  const setVs = async (http: string) => {
    write("vs.yaml", virtualService(http));
    version = await converged(pilot, version);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-xds-e2e-"));
    v1 = await startBackend("v1");
    v2 = await startBackend("v2");
    write("se.yaml", serviceEntry([v1, v2]));
    write("dr.yaml", destinationRule(["v1", "v2"]));
    write(
      "vs.yaml",
      virtualService(`  - route:
    - destination: {host: ${HOST}, subset: v1}
`),
    );
    pilot = await startPilot(dir);
    client = xdsClient(pilot.grpcPort, TARGET);
    await until(async () => (await call(client)).version === "v1", "first call through xDS");
    version = await converged(pilot, undefined);
  });

  after(async () => {
    client?.close();
    await stopPilot(pilot);
    v1?.server.forceShutdown();
    v2?.server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("weighted split 80/20 between two subsets shows in the measured distribution", async () => {
    await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v1}
      weight: 80
    - destination: {host: ${HOST}, subset: v2}
      weight: 20
`);
    const results = await calls(client, 400);
    assert.ok(results.every((r) => r.code === grpc.status.OK));
    const v2share = share(results, (r) => r.version === "v2");
    // 400 calls at p=0.2: sd ≈ 2 %; ±8 % is a 4-sigma tolerance.
    assert.ok(Math.abs(v2share - 0.2) <= 0.08, `v2 share ${v2share} not within 0.20 ± 0.08`);
  });

  test("header-based routing sends a tagged caller to v2 only", async () => {
    await setVs(`  - match:
    - headers: {x-tag: {exact: canary}}
    route:
    - destination: {host: ${HOST}, subset: v2}
  - route:
    - destination: {host: ${HOST}, subset: v1}
`);
    const tagged = await calls(client, 60, {}, { "x-tag": "canary" });
    const plain = await calls(client, 60);
    assert.ok(
      tagged.every((r) => r.version === "v2"),
      "tagged calls all reach v2",
    );
    assert.ok(
      plain.every((r) => r.version === "v1"),
      "untagged calls all reach v1",
    );
  });

  test("fault abort returns the configured status for the configured share of calls", async () => {
    await setVs(`  - fault:
      abort:
        percentage: {value: 50}
        httpStatus: 503
    route:
    - destination: {host: ${HOST}, subset: v1}
`);
    const results = await calls(client, 300);
    const aborted = share(results, (r) => r.code === grpc.status.UNAVAILABLE);
    assert.ok(
      results.every((r) => r.code === grpc.status.OK || r.code === grpc.status.UNAVAILABLE),
      "only OK or the configured status",
    );
    // 300 calls at p=0.5: sd ≈ 2.9 %; ±12 % is a 4-sigma tolerance.
    assert.ok(Math.abs(aborted - 0.5) <= 0.12, `aborted share ${aborted} not within 0.50 ± 0.12`);
  });

  test("retries make a flaky backend succeed; without them half the calls fail", async () => {
    v2.flaky = true;
    try {
      await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v2}
    retries: {attempts: 0}
`);
      // One call at a time, so the backend's fail/succeed alternation meets each retry.
      const without = await calls(client, 40, {}, {}, 1);
      assert.ok(
        share(without, (r) => r.code === grpc.status.UNAVAILABLE) >= 0.3,
        "flaky backend fails without retries",
      );
      await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v2}
    retries: {attempts: 3, retryOn: unavailable}
`);
      const withRetries = await calls(client, 40, {}, {}, 1);
      assert.ok(
        withRetries.every((r) => r.code === grpc.status.OK && r.version === "v2"),
        `all succeed with retries: ${JSON.stringify(withRetries.filter((r) => r.code !== 0))}`,
      );
    } finally {
      v2.flaky = false;
    }
  });

  test("a route timeout fails slow calls and passes fast ones", async () => {
    await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v1}
    timeout: 1s
`);
    // Wide margins both ways (1 s route timeout, 4 s backend delay) so a loaded machine cannot
    // turn a fast call into a timeout.
    const slow = await Promise.all(Array.from({ length: 5 }, () => call(client, { slowMs: 4000 }, {}, 8000)));
    const fast = await calls(client, 20);
    assert.ok(
      slow.every((r) => r.code === grpc.status.DEADLINE_EXCEEDED),
      JSON.stringify(slow),
    );
    assert.ok(fast.every((r) => r.code === grpc.status.OK));
  });

  test("VirtualService, DestinationRule and endpoint changes apply without reconnecting; endpoint changes push EDS only", async () => {
    await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v1}
`);
    const streamsBefore = ((await getJson(pilot, "/debug/connections")) as { id: string }[]).map((c) => c.id);
    // VirtualService: everything to v2.
    await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v2}
`);
    assert.ok((await calls(client, 20)).every((r) => r.version === "v2"));
    // DestinationRule: subset v2 now selects the v1 pods' label.
    write(
      "dr.yaml",
      destinationRule(["v1"]).replace("subsets:", "subsets:\n  - name: v2\n    labels: {version: v1}"),
    );
    version = await converged(pilot, version);
    assert.ok(
      (await calls(client, 20)).every((r) => r.version === "v1"),
      "DR change rerouted subset v2",
    );
    write("dr.yaml", destinationRule(["v1", "v2"]));
    version = await converged(pilot, version);
    // Endpoints: a third backend joins subset v2, counted as EDS pushes only.
    const v3 = await startBackend("v2b");
    try {
      const before = {
        eds: await metricValue(pilot, "pilot_xds_pushes", 'type="eds"'),
        cds: await metricValue(pilot, "pilot_xds_pushes", 'type="cds"'),
        lds: await metricValue(pilot, "pilot_xds_pushes", 'type="lds"'),
        rds: await metricValue(pilot, "pilot_xds_pushes", 'type="rds"'),
      };
      const v3asV2 = { ...v3, version: "v2" } as Backend;
      write("se.yaml", serviceEntry([v1, v2, v3asV2]));
      version = await converged(pilot, version);
      await until(
        async () => (await calls(client, 20)).some((r) => r.version === "v2b"),
        "new endpoint receives traffic",
      );
      const afterCounts = {
        eds: await metricValue(pilot, "pilot_xds_pushes", 'type="eds"'),
        cds: await metricValue(pilot, "pilot_xds_pushes", 'type="cds"'),
        lds: await metricValue(pilot, "pilot_xds_pushes", 'type="lds"'),
        rds: await metricValue(pilot, "pilot_xds_pushes", 'type="rds"'),
      };
      assert.ok(afterCounts.eds > before.eds, "EDS pushed");
      assert.deepEqual(
        { cds: afterCounts.cds, lds: afterCounts.lds, rds: afterCounts.rds },
        { cds: before.cds, lds: before.lds, rds: before.rds },
        "an endpoint change pushes nothing but EDS",
      );
      write("se.yaml", serviceEntry([v1, v2]));
      version = await converged(pilot, version);
    } finally {
      v3.server.forceShutdown();
    }
    const streamsAfter = ((await getJson(pilot, "/debug/connections")) as { id: string }[]).map((c) => c.id);
    assert.deepEqual(streamsAfter, streamsBefore, "the client kept its xDS stream");
  });

  test("a config that would be rejected is not served, and clients keep the last good config", async () => {
    await setVs(`  - route:
    - destination: {host: ${HOST}, subset: v2}
`);
    write(
      "vs.yaml",
      virtualService(`  - match:
    - uri: {regex: "(unclosed"}
    route:
    - destination: {host: ${HOST}, subset: v1}
`),
    );
    await until(async () => {
      const ps = (await getJson(pilot, "/debug/push_status")) as { diagnostics: { message: string }[] };
      return ps.diagnostics.some((d) => /echo|regex|unclosed/i.test(d.message));
    }, "diagnostic for the bad VirtualService");
    await new Promise((r) => setTimeout(r, 200));
    const results = await calls(client, 20);
    assert.ok(
      results.every((r) => r.code === grpc.status.OK && r.version === "v2"),
      "clients keep routing with the last good config",
    );
    const nacks = await metricValue(pilot, "pilot_total_xds_rejects");
    assert.equal(nacks, 0, "nothing was sent that the client rejected");
  });

  test("remora proxy-status and proxy-config read pilot's debug endpoints", async () => {
    const url = `http://127.0.0.1:${pilot.httpPort}`;
    const status = await runRemora(["proxy-status", "--pilot", url]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /NAME\s+TYPE\s+CDS\s+LDS\s+EDS\s+RDS/);
    assert.match(status.stdout, /client-\d+\.default\s+sotw\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/);
    const proxyId = /(client-\d+\.default)/.exec(status.stdout)?.[1] ?? "";
    // The rest through the same functions the subcommands call (a subprocess each costs seconds).
    assert.match(await proxyStatus(url, proxyId, "table"), /TYPE\s+STATUS\s+RESOURCES/);
    const clusters = await runRemora(["proxy-config", "clusters", proxyId, "--pilot", url]);
    assert.equal(clusters.code, 0, clusters.stderr);
    assert.match(
      clusters.stdout,
      new RegExp(`${HOST.replaceAll(".", "\\.")}\\s+${PORT}\\s+v1\\s+outbound\\s+EDS`),
    );
    const endpoints = await proxyConfig(url, "endpoints", proxyId, { output: "table" });
    assert.match(endpoints, new RegExp(`127\\.0\\.0\\.1:${v1.port}\\s+HEALTHY`));
    const listeners = await proxyConfig(url, "listeners", proxyId, { output: "json" });
    const json = JSON.parse(listeners) as { listeners: { name: string }[] };
    assert.ok(json.listeners.some((l) => l.name === `${HOST}:${PORT}`));
    assert.match(await proxyConfig(url, "routes", proxyId, { output: "table" }), /VHOST NAME/);
    await assert.rejects(
      proxyConfig(url, "routes", "nobody.default", { output: "table" }),
      /no connected proxy matches/,
    );
  });

  test("a NACK from a proxy is visible with the rejected resources and their source objects", async () => {
    const ads = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
      mode: "sotw",
      nodeId: "sidecar~127.0.0.1~nacker.default~default.svc.cluster.local",
      metadata: { GENERATOR: "grpc", NAMESPACE: "default" },
      reject: (typeUrl) => (typeUrl === RDS ? "route rejected by the test proxy" : undefined),
    }).start();
    try {
      await ads.waitFor(() => ads.nacks.length > 0, 10_000, "a NACK");
      type Row = {
        proxy: string;
        types: Record<
          string,
          { status: string; lastError?: { message: string; resources: string[]; sources: string[] } }
        >;
      };
      let route: Row["types"][string] | undefined;
      await until(async () => {
        const rows = (await getJson(pilot, "/debug/syncz")) as Row[];
        route = rows.find((r) => r.proxy.includes("nacker"))?.types.route;
        return route?.status === "ERROR";
      }, "syncz shows the NACK");
      assert.match(route?.lastError?.message ?? "", /route rejected by the test proxy/);
      assert.ok(route?.lastError?.resources.includes(`outbound|${PORT}||${HOST}`));
      assert.ok(
        route?.lastError?.sources.some((s) => s.startsWith("VirtualService default/echo")),
        JSON.stringify(route?.lastError?.sources),
      );
      assert.ok((await metricValue(pilot, "pilot_total_xds_rejects")) >= 1);
      const ps = (await getJson(pilot, "/debug/push_status")) as { nacks: { proxy: string; type: string }[] };
      assert.ok(ps.nacks.some((n) => n.proxy.includes("nacker") && n.type === "route"));
      assert.match(
        await proxyStatus(`http://127.0.0.1:${pilot.httpPort}`, "nacker.default", "table"),
        /RDS rejected at/,
      );
      const nacksBefore = ads.nacks.length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ads.nacks.length, nacksBefore, "the rejected config is not resent in a loop");
    } finally {
      ads.close();
    }
  });
});
