// The ADS protocol over real gRPC streams with a TypeScript sidecar-like client (SotW and delta):
// ordering, ACK/NACK, stale nonces, EDS-only pushes, delta removals, reconnects, node checks,
// push skipping and graceful shutdown. The backend is the fake one, so only the server is tested.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  clusterName,
  type FakeProxy,
  type FakeService,
  type FakeSnapshot,
  fakeBackend,
  fakeEncoder,
  fakeServices,
  fakeSnapshot,
} from "../../pilot/xds/fake-backend.ts";
import { XdsServer } from "../../pilot/xds/xds-server.ts";
import { AdsClient, CDS, EDS, LDS, RDS } from "../helpers/ads-client.ts";

const encoder = fakeEncoder;
const services = fakeServices;

async function startServer(): Promise<{ server: XdsServer<FakeSnapshot, FakeProxy>; address: string }> {
  const server = new XdsServer(fakeBackend, encoder, { sendTimeoutMs: 2000 });
  const port = await server.listen("127.0.0.1", 0);
  return { server, address: `127.0.0.1:${port}` };
}

function client(
  address: string,
  mode: "sotw" | "delta",
  id = "app-1.default",
  extra: Partial<AdsClient["opts"]> = {},
) {
  return new AdsClient(address, {
    mode,
    nodeId: `sidecar~10.0.0.9~${id}~default.svc.cluster.local`,
    ...extra,
  });
}

function configured(c: AdsClient, nServices: number): () => boolean {
  return () =>
    c.resources(CDS).size === nServices &&
    c.resources(EDS).size === nServices &&
    c.resources(LDS).size === 1 &&
    c.resources(RDS).size === 1;
}

for (const mode of ["sotw", "delta"] as const) {
  describe(`ADS ${mode}`, () => {
    let server: XdsServer<FakeSnapshot, FakeProxy>;
    let address: string;
    let svcs: FakeService[];
    before(async () => {
      ({ server, address } = await startServer());
      svcs = services(3);
      server.setSnapshot(fakeSnapshot(svcs, { full: true }));
    });
    after(async () => {
      await server.close(500);
    });

    test("sidecar gets CDS, EDS, LDS, RDS in order and acks", async () => {
      const c = client(address, mode).start();
      try {
        await c.waitFor(configured(c, 3), 15_000, "full config");
        const order = c.responses.map((r) => r.typeUrl);
        assert.equal(order[0], CDS, "CDS first");
        assert.ok(order.indexOf(EDS) > order.indexOf(CDS), "EDS after CDS");
        assert.ok(order.indexOf(LDS) > order.indexOf(CDS));
        assert.ok(order.indexOf(RDS) > order.indexOf(LDS), "RDS after LDS");
        const cla = c.json(EDS, clusterName(svcs[0] as FakeService)) as {
          endpoints: { lbEndpoints: unknown[] }[];
        };
        assert.equal(cla.endpoints[0]?.lbEndpoints.length, 2);
        await waitUntil(() => {
          const conn = server.connections().find((x) => x.node.id === c.opts.nodeId);
          return conn !== undefined && [...conn.watches.values()].every((w) => w.status() === "SYNCED");
        }, "all types acked");
      } finally {
        c.close();
      }
    });

    test("endpoint change pushes EDS only, only the changed cluster", async () => {
      const c = client(address, mode).start();
      try {
        await c.waitFor(configured(c, 3));
        const before = c.responses.length;
        const changed = svcs.map((s, i) =>
          i === 1 ? { ...s, endpoints: [...s.endpoints, { address: "10.9.9.9", port: 8080 }] } : s,
        );
        svcs = changed;
        server.setSnapshot(
          fakeSnapshot(changed, { endpointsOnly: true, endpointHosts: new Set([changed[1]?.host ?? ""]) }),
        );
        const target = clusterName(changed[1] as FakeService);
        await c.waitFor(
          () =>
            (c.json(EDS, target) as { endpoints: { lbEndpoints: unknown[] }[] }).endpoints[0]?.lbEndpoints
              .length === 3,
          15_000,
          "new endpoint",
        );
        await server.idle();
        const after = c.responses.slice(before);
        assert.deepEqual(
          after.map((r) => r.typeUrl),
          [EDS],
        );
        assert.deepEqual(after[0]?.names, [target]);
      } finally {
        c.close();
      }
    });

    test("unchanged snapshot sends nothing; removed service is dropped", async () => {
      const c = client(address, mode).start();
      try {
        await c.waitFor(configured(c, 3));
        const before = c.responses.length;
        server.setSnapshot(fakeSnapshot(svcs, { kinds: new Set(["VirtualService"]) }));
        await server.idle();
        await delay(50);
        assert.equal(c.responses.length, before, "no response for identical config");
        const fewer = svcs.slice(0, 2);
        server.setSnapshot(fakeSnapshot(fewer, { kinds: new Set(["ServiceEntry"]) }));
        await c.waitFor(() => c.resources(CDS).size === 2 && c.resources(EDS).size === 2, 15_000, "removal");
        if (mode === "delta") {
          const removals = c.responses.slice(before).flatMap((r) => r.removed);
          assert.ok(
            removals.includes(clusterName(svcs[2] as FakeService)),
            "delta carries removed_resources",
          );
        }
        server.setSnapshot(fakeSnapshot(svcs, { kinds: new Set(["ServiceEntry"]) }));
        await c.waitFor(configured(c, 3), 15_000, "re-added");
      } finally {
        c.close();
      }
    });

    test("NACK is recorded, visible and not resent in a loop; a later good config is sent", async () => {
      const bad = "bad.default.svc.cluster.local";
      let rejectBad = true;
      const c = client(address, mode, "nacker.default", {
        reject: (t, r) =>
          t === CDS && rejectBad && r.name.includes(bad) ? "cluster rejected by test" : undefined,
      }).start();
      try {
        await c.waitFor(configured(c, 3));
        const badSvc: FakeService = { host: bad, port: 80, endpoints: [{ address: "10.8.8.8", port: 80 }] };
        server.setSnapshot(fakeSnapshot([...svcs, badSvc], { kinds: new Set(["ServiceEntry"]) }));
        await c.waitFor(() => c.nacks.length === 1, 15_000, "nack");
        await server.idle();
        await delay(100);
        assert.equal(c.nacks.length, 1, "rejected config is not resent");
        assert.equal(c.resources(CDS).size, 3, "the other clusters stay");
        const conn = server.connections().find((x) => x.node.id === c.opts.nodeId);
        const w = conn?.watches.get("cluster");
        assert.equal(w?.status(), "ERROR");
        assert.match(w?.lastError?.message ?? "", /cluster rejected by test/);
        assert.ok(w?.lastError?.resources.includes(`outbound|80||${bad}`));
        const metrics = await server.metrics.registry.getSingleMetricAsString("pilot_total_xds_rejects");
        assert.match(metrics, /pilot_total_xds_rejects 1/);
        // Another unrelated change does not resend the rejected cluster as is.
        server.setSnapshot(fakeSnapshot([...svcs, badSvc], { kinds: new Set(["VirtualService"]) }));
        await server.idle();
        await delay(50);
        assert.equal(c.nacks.length, 1);
        rejectBad = false;
        const fixed = { ...badSvc, host: "good.default.svc.cluster.local" };
        server.setSnapshot(fakeSnapshot([...svcs, fixed], { kinds: new Set(["ServiceEntry"]) }));
        await c.waitFor(
          () => [...c.resources(CDS).keys()].some((n) => n.includes("good.")),
          15_000,
          "good config",
        );
        await waitUntil(() => w?.status() === "SYNCED", "synced after good config");
        server.setSnapshot(fakeSnapshot(svcs, { kinds: new Set(["ServiceEntry"]) }));
        await c.waitFor(configured(c, 3), 15_000, "back to 3");
      } finally {
        c.close();
      }
    });

    test("reconnect gets full config again (delta: only what changed)", async () => {
      const c = client(address, mode, "reconnect.default").start();
      try {
        await c.waitFor(configured(c, 3));
        const before = c.responses.length;
        c.reconnect();
        await c.waitFor(() => c.responses.length > before, 15_000, "response after reconnect");
        await server.idle();
        await delay(100);
        const after = c.responses.slice(before);
        if (mode === "sotw") {
          assert.ok(after.some((r) => r.typeUrl === CDS && r.names.length === 3));
        } else {
          // initial_resource_versions told the server what the proxy holds: nothing is resent.
          assert.equal(
            after.reduce((n, r) => n + r.names.length, 0),
            0,
            "delta reconnect resends nothing unchanged",
          );
        }
        assert.ok(configured(c, 3)());
      } finally {
        c.close();
      }
    });
  });
}

describe("ADS stream rules", () => {
  let server: XdsServer<FakeSnapshot, FakeProxy>;
  let address: string;
  before(async () => {
    ({ server, address } = await startServer());
    server.setSnapshot(
      fakeSnapshot(
        [
          ...services(2),
          {
            host: "private.other.svc.cluster.local",
            port: 80,
            visibleTo: "other",
            endpoints: [{ address: "10.5.5.5", port: 80 }],
          },
        ],
        { full: true },
      ),
    );
  });
  after(async () => {
    await server.close(500);
  });

  test("first request without node is refused with INVALID_ARGUMENT", async () => {
    const c = new AdsClient(address, { mode: "sotw", nodeId: "" }).start();
    try {
      await c.waitFor(() => c.error !== undefined, 15_000, "error");
      assert.equal(c.error?.code, grpc.status.INVALID_ARGUMENT);
      assert.match(c.error?.details ?? "", /node\.id/);
    } finally {
      c.close();
    }
  });

  test("malformed node id is refused with a clear error", async () => {
    const c = new AdsClient(address, { mode: "delta", nodeId: "just-a-name" }).start();
    try {
      await c.waitFor(() => c.error !== undefined, 15_000, "error");
      assert.equal(c.error?.code, grpc.status.INVALID_ARGUMENT);
      assert.match(c.error?.details ?? "", /type~ip/);
    } finally {
      c.close();
    }
  });

  test("proxies that cannot see an endpoint change are not pushed", async () => {
    const a = client(address, "delta", "a.default").start();
    const b = client(address, "delta", "b.other").start();
    try {
      await a.waitFor(configured(a, 2));
      await b.waitFor(configured(b, 3));
      await server.idle();
      await delay(50);
      const na = a.responses.length;
      const snap = server.currentSnapshot as FakeSnapshot;
      const next = snap.services.map((s) =>
        s.host.startsWith("private") ? { ...s, endpoints: [{ address: "10.5.5.6", port: 80 }] } : s,
      );
      server.setSnapshot(
        fakeSnapshot(next, {
          endpointsOnly: true,
          endpointHosts: new Set(["private.other.svc.cluster.local"]),
        }),
      );
      await b.waitFor(
        () => b.responses.some((r) => r.typeUrl === EDS && r.names[0]?.includes("private")),
        15_000,
      );
      await server.idle();
      assert.equal(a.responses.length, na, "proxy in another namespace got nothing");
      assert.equal(server.pushHistory().at(-1)?.skipped, 1);
    } finally {
      a.close();
      b.close();
    }
  });

  test("stale nonce is ignored and counted", async () => {
    const c = client(address, "sotw", "stale.default").start();
    try {
      await c.waitFor(() => c.resources(CDS).size > 0);
      const conn = server.connections().find((x) => x.node.id === c.opts.nodeId);
      assert.ok(conn);
      conn.onSotwRequest({ type_url: CDS, response_nonce: "bogus", resource_names: [], version_info: "" });
      const m = await server.metrics.registry.getSingleMetricAsString("pilot_xds_expired_nonce");
      assert.match(m, /type="cds"\} 1/);
    } finally {
      c.close();
    }
  });

  test("replicas share nothing but agree on versions: a delta proxy moving over gets nothing resent", async () => {
    const svcs = services(4);
    const a = await startServer();
    const b = await startServer();
    a.server.setSnapshot(fakeSnapshot(svcs, { full: true }));
    b.server.setSnapshot(
      fakeSnapshot(
        svcs.map((s) => ({ ...s })),
        { full: true },
      ),
    );
    const c = client(a.address, "delta", "mover.default").start();
    try {
      await c.waitFor(configured(c, 4));
      await a.server.close(500);
      await c.waitFor(() => c.error !== undefined || c.ended, 15_000, "stream ended by shutdown");
      const before = c.responses.length;
      c.moveTo(b.address);
      await c.waitFor(
        () => c.responses.length >= before + 4,
        15_000,
        "initial responses from the other replica",
      );
      await b.server.idle();
      await delay(100);
      assert.equal(
        c.responses.slice(before).reduce((n, r) => n + r.names.length, 0),
        0,
        "same content, same versions: nothing resent",
      );
      assert.ok(configured(c, 4)());
    } finally {
      c.close();
      await b.server.close(500);
    }
  });

  test("a stuck proxy never blocks others; its stream is closed after the send timeout", async () => {
    const s = new XdsServer(fakeBackend, encoder, { sendTimeoutMs: 300 });
    const addr = `127.0.0.1:${await s.listen("127.0.0.1", 0)}`;
    // Large endpoint sets so a few pushes fill the stuck stream's buffers.
    let gen = 0;
    const big = () => services(20, 400, 20 + gen++);
    s.setSnapshot(fakeSnapshot(big(), { full: true }));
    const stuck = client(addr, "sotw", "stuck.default").start();
    const healthy = client(addr, "delta", "healthy.default").start();
    try {
      await stuck.waitFor(configured(stuck, 20), 15_000);
      await healthy.waitFor(configured(healthy, 20), 15_000);
      stuck.pause();
      for (let i = 0; i < 40 && stuck.error === undefined; i++) {
        const n = healthy.responses.length;
        s.setSnapshot(fakeSnapshot(big(), { kinds: new Set(["ServiceEntry"]) }));
        await healthy.waitFor(() => healthy.responses.length > n, 15_000, `healthy push ${i}`);
        const timeouts = await s.metrics.registry.getSingleMetricAsString("pilot_xds_write_timeout");
        if (/pilot_xds_write_timeout [1-9]/.test(timeouts)) break;
      }
      await waitUntil(
        () => !s.connections().some((c) => c.node.id.includes("stuck")),
        "stuck stream closed",
        15_000,
      );
      assert.ok(
        s.connections().some((c) => c.node.id.includes("healthy")),
        "the healthy proxy stays",
      );
      const m = await s.metrics.registry.getSingleMetricAsString("pilot_xds_write_timeout");
      assert.match(m, /pilot_xds_write_timeout [1-9]/);
    } finally {
      stuck.close();
      healthy.close();
      await s.close(500);
    }
  });

  test("graceful shutdown ends streams with UNAVAILABLE", async () => {
    const { server: s2, address: a2 } = await startServer();
    s2.setSnapshot(fakeSnapshot(services(1), { full: true }));
    const c = client(a2, "sotw").start();
    try {
      await c.waitFor(() => c.resources(CDS).size === 1);
      await s2.close(1000);
      await c.waitFor(() => c.error !== undefined, 15_000, "stream end");
      assert.equal(c.error?.code, grpc.status.UNAVAILABLE);
    } finally {
      c.close();
    }
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await delay(10);
  }
}
