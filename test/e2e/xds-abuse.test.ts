// The ADS server under abusive raw clients: streams that never read but keep asking for a full
// response (or keep being sent rotated secrets), requests far over the receive limit, many large
// requests at once, and streams that never send a first request. Memory must stay bounded (each case prints the peak RSS), every
// abusive stream must end with a clear status, and well-behaved clients must keep working.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { TYPE_URLS } from "../../pilot/model/proxy-config.ts";
import {
  type FakeProxy,
  type FakeSnapshot,
  fakeBackend,
  fakeEncoder,
  fakeServices,
  fakeSnapshot,
} from "../../pilot/xds/fake-backend.ts";
import type { SecretProvider, SecretsChanged } from "../../pilot/xds/secrets.ts";
import type { XdsServerOptions } from "../../pilot/xds/types.ts";
import { XdsServer } from "../../pilot/xds/xds-server.ts";
import { AdsClient, CDS, RawAdsStream, rawNode, SDS } from "../helpers/ads-client.ts";

const MB = 1024 * 1024;

const nodeId = (i: number) => `sidecar~10.0.0.${i}~abuser-${i}.default~default.svc.cluster.local`;

async function startServer(opts: Partial<XdsServerOptions>, nServices: number) {
  const server = new XdsServer<FakeSnapshot, FakeProxy>(fakeBackend, fakeEncoder, opts);
  const port = await server.listen("127.0.0.1", 0);
  server.setSnapshot(fakeSnapshot(fakeServices(nServices, 1), { full: true }));
  return { server, address: `127.0.0.1:${port}` };
}

/** Samples RSS while `run` runs; returns the growth of the peak over the start, in MB. */
async function peakRssGrowth<T>(
  run: () => Promise<T>,
): Promise<{ result: T; growthMb: number; peakMb: number }> {
  globalThis.gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthMb: Math.round((peak - start) / MB), peakMb: Math.round(peak / MB) };
  } finally {
    clearInterval(t);
  }
}

function healthy(address: string, name: string): AdsClient {
  return new AdsClient(address, {
    mode: "delta",
    nodeId: `sidecar~10.0.1.1~${name}.default~default.svc.cluster.local`,
    decode: false,
  });
}

describe("streams that never read but keep asking", () => {
  let server: XdsServer<FakeSnapshot, FakeProxy>;
  let address: string;
  before(async () => {
    // About 0.5 MB of CDS: every empty-nonce request asks for all of it again.
    ({ server, address } = await startServer({ sendTimeoutMs: 1_000 }, 3_000));
  });
  after(() => server.close(200));

  test("ten of them stay bounded and are closed; a healthy client is unaffected", async () => {
    const good = healthy(address, "good").start();
    const abusers = Array.from({ length: 10 }, () => new RawAdsStream(address, "sotw", { read: false }));
    let maxUnsent = 0;
    const sampler = setInterval(() => {
      for (const c of server.connections()) maxUnsent = Math.max(maxUnsent, c.unsentBytes);
    }, 2);
    try {
      const { growthMb, peakMb } = await peakRssGrowth(async () => {
        abusers.forEach((a, i) => {
          a.send({ node: rawNode(nodeId(i + 1)), type_url: CDS, resource_names: [] });
        });
        // Each empty-nonce request asks for the full CDS again; the stream never reads one.
        for (let round = 0; round < 100; round++) {
          for (const a of abusers) a.send({ type_url: CDS, resource_names: [], response_nonce: "" });
          await new Promise((r) => setImmediate(r));
        }
        return Promise.all(abusers.map((a) => a.waitForEnd(20_000)));
      });
      const ends = await Promise.all(abusers.map((a) => a.waitForEnd(1)));
      for (const e of ends) {
        // The status cannot pass the unread responses; the reset can (gRPC: RESOURCE_EXHAUSTED).
        assert.equal(
          e?.code,
          grpc.status.RESOURCE_EXHAUSTED,
          `every abusive stream is ended: ${JSON.stringify(e)}`,
        );
      }
      assert.ok(!server.connections().some((c) => c.node.id.includes("abuser")), "none is kept");
      const closed = await server.metrics.registry.getSingleMetricAsString(
        "remora_xds_rejected_streams_total",
      );
      const n = [...closed.matchAll(/reason="(send_timeout|unsent_bytes)"\} (\d+)/g)].reduce(
        (a, m) => a + Number(m[2]),
        0,
      );
      assert.equal(n, 10, closed);
      // One full response may sit unsent on top of the congestion threshold, never one per request.
      assert.ok(maxUnsent < 4 * MB, `most unsent bytes on one stream: ${maxUnsent}`);
      assert.ok(growthMb < 300, `RSS grew ${growthMb} MB`);
      console.log(
        `# never-reading streams: peak RSS ${peakMb} MB (+${growthMb} MB), most unsent on one stream ${Math.round(maxUnsent / 1024)} KB`,
      );
      await good.waitFor(
        () => good.resources(CDS).size === 3_000,
        20_000,
        "the healthy client has its config",
      );
      const m = await server.metrics.registry.getSingleMetricAsString("pilot_xds_write_timeout");
      assert.match(m, /pilot_xds_write_timeout [1-9]/);
    } finally {
      clearInterval(sampler);
      for (const a of abusers) a.close();
      good.close();
    }
  });
});

/** Serves `big://<n>` names, 256 KiB of CA bytes each, different after every rotate(). */
class RotatingProvider implements SecretProvider<FakeSnapshot, FakeProxy> {
  readonly name = "rotating";
  generation = 0;
  changed: SecretsChanged<FakeProxy> | undefined;
  claims = (n: string) => n.startsWith("big://");
  attach(changed: SecretsChanged<FakeProxy>) {
    this.changed = changed;
  }
  rotate() {
    this.generation++;
    this.changed?.();
  }
  resolve(q: { names: readonly string[] }) {
    const bytes = Buffer.alloc(256 * 1024, `generation ${this.generation};`).toString("base64");
    return {
      secrets: q.names.map((name) => ({ name, validation_context: { trusted_ca: { inline_bytes: bytes } } })),
    };
  }
}

describe("SDS responses to a stream that never reads", () => {
  test("rotations wait behind the same back-pressure: one pending push, then the stream is closed", async () => {
    const provider = new RotatingProvider();
    const server = new XdsServer<FakeSnapshot, FakeProxy>(
      { ...fakeBackend, secretProviders: [provider] },
      fakeEncoder,
      { sendTimeoutMs: 1_000 },
    );
    const address = `127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
    server.setSnapshot(fakeSnapshot(fakeServices(1, 1), { full: true }));
    const stream = new RawAdsStream(address, "sotw", { read: false });
    let maxUnsent = 0;
    const sampler = setInterval(() => {
      for (const c of server.connections()) maxUnsent = Math.max(maxUnsent, c.unsentBytes);
    }, 2);
    try {
      // About 1.4 MB of secrets per response: over the 1 MiB send buffer after the first one.
      const names = Array.from({ length: 4 }, (_, i) => `big://${i}`);
      stream.send({ node: rawNode(nodeId(1)), type_url: SDS, resource_names: names });
      const t0 = Date.now();
      while (!server.connections().some((c) => c.unsentBytes > 0) && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 5));
      // Rotations (pushes) and requests asking for every secret again (answers) alike.
      for (let i = 0; i < 50; i++) {
        provider.rotate();
        stream.send({ type_url: SDS, resource_names: names, response_nonce: "" });
        await new Promise((r) => setImmediate(r));
      }
      const end = await stream.waitForEnd(20_000);
      assert.ok(
        end?.code === grpc.status.RESOURCE_EXHAUSTED || end?.code === grpc.status.UNAVAILABLE,
        `the stream is ended: ${JSON.stringify(end)}`,
      );
      assert.equal(server.connections().length, 0);
      assert.match(
        await server.metrics.registry.getSingleMetricAsString("remora_xds_rejected_streams_total"),
        /reason="send_timeout"\} 1/,
      );
      // A hundred responses of 1.4 MB would be 140 MB; what waits is one over the threshold.
      assert.ok(maxUnsent < 4 * MB, `most unsent bytes: ${maxUnsent}`);
      console.log(
        `# 50 SDS rotations and requests to a non-reading stream: at most ${maxUnsent} bytes unsent`,
      );
    } finally {
      clearInterval(sampler);
      stream.close();
      await server.close(200);
    }
  });
});

describe("request size limits", () => {
  let server: XdsServer<FakeSnapshot, FakeProxy>;
  let address: string;
  before(async () => {
    ({ server, address } = await startServer({}, 10));
  });
  after(() => server.close(200));

  test("requests over the 4 MiB receive limit are refused with RESOURCE_EXHAUSTED", async () => {
    const names = (mb: number) => Array.from({ length: (mb * MB) / 64 }, (_, i) => `x${i}`.padEnd(62, "x"));
    const big = names(8);
    const { growthMb, peakMb } = await peakRssGrowth(async () => {
      const streams = Array.from({ length: 4 }, () => new RawAdsStream(address, "sotw"));
      for (const [i, s] of streams.entries()) {
        s.send({ node: rawNode(nodeId(i + 1)), type_url: TYPE_URLS.endpoint, resource_names: big });
      }
      const ends = await Promise.all(streams.map((s) => s.waitForEnd(30_000)));
      for (const s of streams) s.close();
      for (const e of ends) {
        // Refused at the message header ("Received message larger than max (… vs 4194304)"), or,
        // while the client is still pushing bytes, by an HTTP/2 reset that gRPC maps the same way.
        assert.equal(e?.code, grpc.status.RESOURCE_EXHAUSTED, JSON.stringify(e));
        assert.match(e?.details ?? "", /larger than max \(\d+ vs 4194304\)|ENHANCE_YOUR_CALM/);
      }
    });
    console.log(`# four 8 MB requests: peak RSS ${peakMb} MB (+${growthMb} MB)`);
    // Under the limit is fine: a 3 MiB subscription is answered.
    const ok = new RawAdsStream(address, "sotw");
    try {
      ok.send({ node: rawNode(nodeId(9)), type_url: TYPE_URLS.endpoint, resource_names: names(3) });
      const t0 = Date.now();
      while (ok.received === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ok.received, 1, "a request under the limit is answered");
    } finally {
      ok.close();
    }
  });

  test("many large requests at once are decoded a budget per turn, all answered", async () => {
    const small = await startServer({ decodeBytesPerTurn: 4 * MB }, 10);
    const names = Array.from({ length: (3 * MB) / 64 }, (_, i) => `y${i}`.padEnd(62, "y"));
    const streams = Array.from({ length: 8 }, () => new RawAdsStream(small.address, "sotw"));
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    try {
      const { growthMb, peakMb } = await peakRssGrowth(async () => {
        for (const [i, s] of streams.entries()) {
          s.send({ node: rawNode(nodeId(i + 1)), type_url: TYPE_URLS.endpoint, resource_names: names });
        }
        const t0 = Date.now();
        while (streams.some((s) => s.received === 0) && Date.now() - t0 < 30_000)
          await new Promise((r) => setTimeout(r, 10));
      });
      assert.deepEqual(
        streams.map((s) => s.received),
        streams.map(() => 1),
        "every stream answered",
      );
      // Whether any waited depends on how the reads line up (decode-budget.test.ts covers that).
      console.log(
        `# eight 3 MB requests at once: peak RSS ${peakMb} MB (+${growthMb} MB), ${turns} timer turns, at most ${Math.round(small.server.decodeQueuePeakBytes / 1024)} KB waited for a later turn`,
      );
    } finally {
      clearInterval(ticker);
      for (const s of streams) s.close();
      await small.server.close(200);
    }
  });
});

describe("streams that never send a first request", () => {
  test("are counted in pilot_xds and visible until they time out", async () => {
    const { server, address } = await startServer({ firstRequestTimeoutMs: 500 }, 1);
    const silent = Array.from({ length: 3 }, () => new RawAdsStream(address, "delta"));
    try {
      const t0 = Date.now();
      while (server.streamsInfo().length < 3 && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(
        server.streamsInfo().map((s) => s.state),
        ["waiting", "waiting", "waiting"],
      );
      assert.match(
        await server.metrics.registry.getSingleMetricAsString("pilot_xds"),
        /pilot_xds\{type="delta"\} 3/,
      );
      const ends = await Promise.all(silent.map((s) => s.waitForEnd(10_000)));
      for (const e of ends) {
        assert.equal(e?.code, grpc.status.DEADLINE_EXCEEDED, JSON.stringify(e));
        assert.match(e?.details ?? "", /no DiscoveryRequest within 500 ms/);
      }
      assert.equal(server.streamsInfo().length, 0);
      assert.match(
        await server.metrics.registry.getSingleMetricAsString("pilot_xds"),
        /pilot_xds\{type="delta"\} 0/,
      );
      assert.match(
        await server.metrics.registry.getSingleMetricAsString("remora_xds_rejected_streams_total"),
        /reason="first_request_timeout"\} 3/,
      );
    } finally {
      for (const s of silent) s.close();
      await server.close(200);
    }
  });
});
