// A gateway proxy against a real `remora pilot` on a config directory: an ADS client acting as
// the ingress gateway (node type router, connecting from the address of its registered pod, and
// following RDS, EDS and SDS names as Envoy does) gets its listener, routes, clusters, endpoints
// and the credential its Gateway names; rotating the Secret file is an SDS-only push; a proxy
// claiming another namespace gets nothing, visibly in /debug/syncz and a metric, and no debug
// output carries the private key.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { AdsClient, CDS, EDS, LDS, RDS, SDS } from "../helpers/ads-client.ts";
import { getJson, metricValue, type Pilot, startPilot } from "../helpers/pilot-process.ts";
import { credentialSecret, testServingCert } from "../helpers/tls-secrets.ts";

const INGRESS = "router~127.0.0.1~ingress-1.istio-system~istio-system.svc.cluster.local";
const CERT = "kubernetes://shop-cert";

const objects = [
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "ingress-1", namespace: "istio-system", labels: { istio: "ingressgateway" } },
    spec: { containers: [{ name: "istio-proxy", image: "auto" }] },
    status: { phase: "Running", podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }] },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "productpage", namespace: "shop" },
    spec: { clusterIP: "10.96.1.1", selector: { app: "productpage" }, ports: [{ name: "http", port: 9080 }] },
  },
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "productpage-1", namespace: "shop", labels: { app: "productpage" } },
    spec: { containers: [{ name: "app", image: "x" }] },
    status: { phase: "Running", podIP: "10.0.1.1", conditions: [{ type: "Ready", status: "True" }] },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "shop", namespace: "shop" },
    spec: {
      hosts: ["shop.example.com"],
      gateways: ["shop"],
      http: [{ route: [{ destination: { host: "productpage" } }] }],
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "shop", namespace: "shop" },
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["shop/shop.example.com"],
          tls: { mode: "SIMPLE", credentialName: "shop-cert" },
        },
      ],
    },
  },
];

function writeSecret(dir: string, certPem: string, keyPem: string): void {
  writeFileSync(
    join(dir, "secret.yaml"),
    stringify(credentialSecret("istio-system", "shop-cert", { cert: { certPem, keyPem }, base64: true })),
  );
}

function secretKey(c: AdsClient): string {
  const tls = c.json(SDS, CERT)?.tlsCertificate as { privateKey?: { inlineBytes?: string } } | undefined;
  return Buffer.from(tls?.privateKey?.inlineBytes ?? "", "base64").toString();
}

describe("gateway credentials from remora pilot", () => {
  let dir: string;
  let pilot: Pilot;
  const first = testServingCert(["shop.example.com"]);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-gw-sds-"));
    writeFileSync(join(dir, "objects.yaml"), objects.map((o) => stringify(o)).join("---\n"));
    writeSecret(dir, first.certPem, first.keyPem);
    pilot = await startPilot(dir);
  });
  after(() => {
    pilot?.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ["sotw", "delta"] as const) {
    test(`${mode}: the gateway gets its whole config and credential; a rotation pushes SDS alone`, async () => {
      const gw = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
        mode,
        nodeId: INGRESS,
        followSecrets: true,
      }).start();
      try {
        await gw.waitFor(() => gw.resources(SDS).has(CERT), 20_000, "the credential, followed from LDS");
        await gw.waitFor(
          () => gw.resources(EDS).size === 1 && gw.resources(RDS).size === 1,
          20_000,
          "RDS and EDS",
        );
        assert.deepEqual([...gw.resources(LDS).keys()], ["0.0.0.0_443"]);
        assert.deepEqual([...gw.resources(RDS).keys()], ["https.443.https.shop.shop"]);
        assert.deepEqual([...gw.resources(CDS).keys()].sort(), [
          "BlackHoleCluster",
          "outbound|9080||productpage.shop.svc.cluster.local",
        ]);
        assert.deepEqual(
          [...gw.resources(EDS).keys()],
          ["outbound|9080||productpage.shop.svc.cluster.local"],
        );
        assert.deepEqual([...gw.resources(SDS).keys()], [CERT]);
        assert.deepEqual(gw.nacks, []);
        assert.equal(secretKey(gw), first.keyPem);
        const before = gw.responses.length;
        const next = testServingCert(["shop.example.com"]);
        writeSecret(dir, next.certPem, next.keyPem);
        await gw.waitFor(() => secretKey(gw) === next.keyPem, 30_000, "the rotated credential");
        await new Promise((r) => setTimeout(r, 300));
        const pushed = [...new Set(gw.responses.slice(before).map((r) => r.typeUrl))];
        assert.deepEqual(pushed, [SDS], "a rotation pushes SDS alone");
        writeSecret(dir, first.certPem, first.keyPem);
        await gw.waitFor(() => secretKey(gw) === first.keyPem, 30_000, "the credential restored");
      } finally {
        gw.close();
      }
    });
  }

  test("a proxy claiming another namespace is refused, visibly; debug output has no key", async () => {
    const impostor = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, {
      mode: "delta",
      nodeId: "router~127.0.0.1~ingress-1.shop~shop.svc.cluster.local",
    }).start();
    try {
      await impostor.waitFor(() => impostor.responses.some((r) => r.typeUrl === LDS), 20_000, "LDS");
      impostor.setNames(SDS, [CERT, "kubernetes://istio-system/shop-cert"]);
      let row:
        | {
            proxy: string;
            types: { secret?: { refused?: { name: string; reason: string; message: string }[] } };
          }
        | undefined;
      const end = Date.now() + 20_000;
      while (!row?.types.secret?.refused?.length) {
        if (Date.now() > end) throw new Error("no refusal in /debug/syncz");
        await new Promise((r) => setTimeout(r, 50));
        const sync = (await getJson(pilot, "/debug/syncz")) as NonNullable<typeof row>[];
        row = sync.find((s) => s.proxy.includes("ingress-1.shop"));
      }
      assert.equal(impostor.resources(SDS).size, 0);
      const refused = row.types.secret?.refused ?? [];
      assert.deepEqual(refused.map((r) => `${r.name} ${r.reason}`).sort(), [
        "kubernetes://istio-system/shop-cert namespace_mismatch",
        `${CERT} namespace_mismatch`,
      ]);
      assert.match(refused[0]?.message ?? "", /namespace/);
      assert.ok((await metricValue(pilot, "remora_sds_refusals_total", 'reason="namespace_mismatch"')) >= 1);

      // The legitimate gateway's dump shows its secret without the key.
      const gw = new AdsClient(`127.0.0.1:${pilot.grpcPort}`, { mode: "sotw", nodeId: INGRESS }).start();
      try {
        gw.setNames(SDS, [CERT]);
        await gw.waitFor(() => gw.resources(SDS).has(CERT), 20_000, "credential");
        const dump = JSON.stringify(
          await getJson(pilot, "/debug/config_dump?proxyID=ingress-1.istio-system"),
        );
        assert.match(dump, /kubernetes:\/\/shop-cert/);
        assert.match(dump, /\[redacted\]/);
        const keyLine = first.keyPem.split("\n")[1] ?? "";
        const keyB64 = Buffer.from(first.keyPem).toString("base64").slice(40, 80);
        for (const path of [
          "/debug/config_dump?proxyID=ingress-1.istio-system",
          "/debug/syncz",
          "/debug/configz",
          "/debug/registryz",
          "/debug/push_status",
        ]) {
          const text = JSON.stringify(await getJson(pilot, path));
          assert.ok(!text.includes(keyLine) && !text.includes(keyB64), `${path} leaks the key`);
        }
        assert.ok(!pilot.logs.join("").includes(keyLine), "logs leak the key");
      } finally {
        gw.close();
      }
    } finally {
      impostor.close();
    }
  });
});
