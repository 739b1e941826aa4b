// RequestAuthentication keys by jwksUri through a real `remora pilot`: pilot fetches the JWKS from
// an HTTP server on loopback and a sidecar's jwt_authn filter (as an ADS client receives it,
// SotW and delta) inlines them; a key rotation on the server reaches the proxy at the next
// refresh; a server failure keeps the last good keys; istiod's fetch counters move.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { AdsClient, LDS } from "../helpers/ads-client.ts";
import { metricValue, type Pilot, startPilot } from "../helpers/pilot-process.ts";

const NODE = "sidecar~10.0.2.21~billing-1.shop~shop.svc.cluster.local";
const jwks = (kid: string) =>
  JSON.stringify({
    keys: [
      {
        kty: "EC",
        crv: "P-256",
        kid,
        x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
      },
    ],
  });

function objects(jwksUri: string): unknown[] {
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "billing", namespace: "shop" },
      spec: {
        clusterIP: "10.96.2.20",
        selector: { app: "billing" },
        ports: [{ name: "http", port: 80, targetPort: 8080 }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "billing-1", namespace: "shop", labels: { app: "billing" } },
      spec: { serviceAccountName: "billing", containers: [{ name: "app", image: "billing" }] },
      status: { phase: "Running", podIP: "10.0.2.21", conditions: [{ type: "Ready", status: "True" }] },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "RequestAuthentication",
      metadata: { name: "billing-jwt", namespace: "shop" },
      spec: {
        selector: { matchLabels: { app: "billing" } },
        jwtRules: [{ issuer: "https://auth.shop.example", jwksUri }],
      },
    },
  ];
}

/** The text of every listener the client holds (the JWKS is a JSON string inside them). */
function listenersText(c: AdsClient): string {
  return JSON.stringify([...c.resources(LDS).values()].map((r) => r.json));
}

describe("RequestAuthentication jwksUri fetched by remora pilot", () => {
  let dir: string;
  let pilot: Pilot;
  let server: Server;
  let kid = "rot-1";
  let status = 200;
  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(status === 200 ? jwks(kid) : "{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys.json`;
    dir = mkdtempSync(join(tmpdir(), "remora-jwks-"));
    writeFileSync(
      join(dir, "objects.yaml"),
      objects(uri)
        .map((o) => stringify(o))
        .join("---\n"),
    );
    pilot = await startPilot(dir, ["--jwt-pub-key-refresh-interval", "300ms"]);
  });
  after(async () => {
    pilot?.proc.kill("SIGKILL");
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test("keys are inlined, rotated keys follow, a failing server keeps the last good ones", async () => {
    const clients = (["sotw", "delta"] as const).map((mode) =>
      new AdsClient(`127.0.0.1:${pilot.grpcPort}`, { mode, nodeId: NODE }).start(),
    );
    try {
      for (const c of clients) {
        await c.waitFor(() => listenersText(c).includes("rot-1"), 30_000, "the fetched key in jwt_authn");
        assert.ok(listenersText(c).includes("jwt_authn"));
      }
      kid = "rot-2";
      for (const c of clients) {
        await c.waitFor(
          () => listenersText(c).includes("rot-2") && !listenersText(c).includes("rot-1"),
          30_000,
          "the rotated key",
        );
      }
      const failuresBefore = await metricValue(pilot, "pilot_jwks_resolver_network_fetch_fail_total");
      status = 503;
      const deadline = Date.now() + 30_000;
      while ((await metricValue(pilot, "pilot_jwks_resolver_network_fetch_fail_total")) <= failuresBefore) {
        assert.ok(Date.now() < deadline, "a failed refresh is counted");
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of clients) assert.ok(listenersText(c).includes("rot-2"), "the last good keys stay");
      assert.ok((await metricValue(pilot, "pilot_jwks_resolver_network_fetch_success_total")) >= 2);
      for (const c of clients) assert.deepEqual(c.nacks, []);
    } finally {
      for (const c of clients) c.close();
    }
  });
});
