// The stage breakdown of a real push: a ServiceEntry's endpoint changes in a watched directory,
// an Envoy-like client receives it, and the push's record in /debug/push_status says where the
// time went (source, debounce, build, patch or translate, gate, encode, write) while /metrics has
// the same stages as histograms. Only the shape and the causal order are checked, never durations.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AdsClient, CDS, EDS } from "../../test/helpers/ads-client.ts";
import type { ProxyInfo } from "../model/proxy.ts";
import type { MeshSnapshot } from "../model/snapshot.ts";
import type { PushRecord } from "../xds/xds-server.ts";
import { meshBackend, meshEncoder } from "./mesh-backend.ts";
import { createMeshFeed } from "./mesh-feed.ts";
import { type RunningPilot, startPilot } from "./pilot.ts";

const HOST = "echo.example.internal";
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const serviceEntry = (address: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: ${address}}]
`;

let dir: string;
let pilot: RunningPilot<MeshSnapshot, ProxyInfo>;
let ads: AdsClient;
let url: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "remora-stages-"));
  writeFileSync(join(dir, "echo.yaml"), serviceEntry("192.0.2.10"));
  pilot = await startPilot({
    backend: meshBackend(),
    encoder: meshEncoder,
    feed: createMeshFeed({ configDir: dir, debounceAfterMs: 20, debounceMaxMs: 200 }),
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    log: silent,
  });
  url = `http://127.0.0.1:${pilot.httpPort}`;
  ads = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
    mode: "sotw",
    nodeId: "sidecar~10.9.0.1~client.default~default.svc.cluster.local",
    decode: false,
  }).start();
  await ads.waitFor(() => ads.resources(CDS).size > 0 && ads.resources(EDS).size > 0, 10_000, "config");
});

after(async () => {
  ads?.close();
  await pilot?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

async function pushStatus(): Promise<{ pushes: PushRecord[] }> {
  const res = await fetch(`${url}/debug/push_status`);
  assert.equal(res.status, 200);
  return (await res.json()) as { pushes: PushRecord[] };
}

test("an endpoint change's push records every stage, from the source change to the last write", async () => {
  const before = (await pushStatus()).pushes.length;
  const edsBefore = ads.responses.filter((r) => r.typeUrl === EDS).length;
  writeFileSync(join(dir, "echo.yaml"), serviceEntry("192.0.2.11"));
  await ads.waitFor(
    () => ads.responses.filter((r) => r.typeUrl === EDS).length > edsBefore,
    10_000,
    "the new assignment",
  );
  await pilot.xds.idle();
  const pushes = (await pushStatus()).pushes;
  assert.ok(pushes.length > before, "a push was recorded");
  const push = pushes.at(-1) as PushRecord;
  assert.equal(push.reason, "endpoints");
  const s = push.stages;
  assert.equal(s.done, true);
  for (const k of ["sourceMs", "debounceMs", "buildMs"] as const) {
    assert.equal(typeof s[k], "number", `${k} is reported`);
    assert.ok((s[k] as number) >= 0, k);
  }
  // One proxy class, made by patching the previous translation (incremental EDS), one write.
  assert.equal(s.patched + s.translated, 1, JSON.stringify(s));
  assert.equal(s.patched, 1, "an endpoint-only change patches");
  assert.equal(s.written, 1);
  assert.ok(s.firstWriteMs !== undefined && s.lastWriteMs !== undefined);
  assert.ok((s.lastWriteMs as number) >= (s.firstWriteMs as number));
  // Writes are measured from the source change, so they come after the debounce wait.
  assert.ok((s.firstWriteMs as number) + 1 >= (s.debounceMs as number), JSON.stringify(s));
});

test("a rewrite that changes nothing pilot reads pushes nothing, and the next endpoint change still patches", async () => {
  const before = (await pushStatus()).pushes.length;
  const seen = ads.responses.length;
  writeFileSync(join(dir, "echo.yaml"), `${serviceEntry("192.0.2.11")}# reformatted\n`);
  const deadline = Date.now() + 10_000;
  while ((await pushStatus()).pushes.length === before && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  await pilot.xds.idle();
  const push = (await pushStatus()).pushes.at(-1) as PushRecord;
  assert.equal(push.reason, "unchanged");
  assert.equal(push.proxies, 0);
  assert.equal(push.skipped, 1);
  assert.equal(ads.responses.length, seen, "nothing was sent");
  // The class's config under the unchanged snapshot is the previous one, so it is still the base
  // of an incremental EDS push.
  const edsBefore = ads.responses.filter((r) => r.typeUrl === EDS).length;
  writeFileSync(join(dir, "echo.yaml"), serviceEntry("192.0.2.12"));
  await ads.waitFor(
    () => ads.responses.filter((r) => r.typeUrl === EDS).length > edsBefore,
    10_000,
    "the new assignment",
  );
  await pilot.xds.idle();
  const next = (await pushStatus()).pushes.at(-1) as PushRecord;
  assert.equal(next.reason, "endpoints");
  assert.equal(next.stages.patched, 1, JSON.stringify(next.stages));
});

test("a config change is translated in full, and its gate and encoding are reported", async () => {
  const edsBefore = ads.responses.filter((r) => r.typeUrl === CDS).length;
  writeFileSync(
    join(dir, "dr.yaml"),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${HOST}
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}
`,
  );
  await ads.waitFor(
    () => ads.responses.filter((r) => r.typeUrl === CDS).length > edsBefore,
    10_000,
    "the changed cluster",
  );
  await pilot.xds.idle();
  const push = (await pushStatus()).pushes.at(-1) as PushRecord;
  assert.notEqual(push.reason, "endpoints");
  assert.equal(push.stages.translated, 1, JSON.stringify(push.stages));
  assert.equal(push.stages.patched, 0);
  assert.ok(push.stages.gateMs >= 0 && push.stages.encodeMs >= 0 && push.stages.translateMs >= 0);
});

test("/metrics exports the stages under Istio's names where Istio has them", async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const name of [
    "pilot_debounce_time_count",
    "pilot_pushcontext_init_seconds_count",
    "pilot_proxy_convergence_time_count",
    "pilot_xds_push_time_count",
  ]) {
    assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? [1-9]`, "m"), name);
  }
  for (const stage of ["source", "debounce", "build", "translate", "patch", "gate", "encode", "write"]) {
    assert.match(
      text,
      new RegExp(`^remora_push_stage_seconds_count\\{stage="${stage}"\\} [1-9]`, "m"),
      stage,
    );
  }
});
