// Primary–remote: a remote cluster without a control plane of its own. `remora manifest generate
// --remote --primary-address IP` is applied to a fake API server standing in for the remote
// cluster; a pod created there goes through the generated webhook configuration (the fake API
// server dispatches admission webhooks over TLS checked against the generated caBundle) to the
// primary's injector, whose certificate names the injector Service, as the primary's own does.
// The pod comes back injected with the remote cluster's id and network in its proxy's metadata
// and the primary's discovery address, which the generated selector-less Service resolves there.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { parseAllDocuments } from "yaml";
import { generateCa, generateServingCert } from "../../injector/certs/generate.ts";
import { defaultInjectionConfig } from "../../injector/config.ts";
import { defaultEngine } from "../../injector/webhook/default-engine.ts";
import { createInjectorServer } from "../../injector/webhook/server.ts";
import { installMutatingWebhooks } from "../fake-apiserver/admission-webhooks.ts";
import { FakeApiServer, kubeConfigFor } from "../fake-apiserver/index.ts";
import { rawRequest } from "../fake-apiserver/rest-client.ts";
import { runRemora } from "../helpers/cli.ts";

const NS = "remora-system";
const WEBHOOK_PORT = 15017;

describe("primary–remote: the remote cluster's pods are injected by the primary", () => {
  let remote: FakeApiServer;
  let dir: string;
  let injectorPort = 0;
  const injector = (() => {
    const ca = generateCa({ commonName: "primary-injector-ca" });
    const serving = generateServingCert({ ca, dnsNames: [`remora-injector.${NS}.svc`] });
    return {
      ca,
      server: createInjectorServer({
        engine: defaultEngine,
        config: defaultInjectionConfig(),
        tls: { key: serving.keyPem, cert: serving.certPem },
        logger: false,
      }),
    };
  })();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "remora-mc-remote-"));
    writeFileSync(join(dir, "ca.pem"), injector.ca.certPem);
    ({ port: injectorPort } = await injector.server.listen({
      port: 0,
      monitoringPort: null,
      host: "127.0.0.1",
    }));
    remote = await FakeApiServer.start({ tls: true });
    const generated = await runRemora([
      "manifest",
      "generate",
      "--remote",
      "--primary-address",
      "127.0.0.1",
      "--cluster-id",
      "cluster2",
      "--network",
      "network2",
      "--ca-bundle-file",
      join(dir, "ca.pem"),
    ]);
    assert.equal(generated.code, 0, generated.stderr);
    const objects = KubernetesObjectApi.makeApiClient(kubeConfigFor(remote));
    for (const doc of parseAllDocuments(generated.stdout)) {
      const o = doc.toJS() as KubernetesObject;
      if (o.kind === "Namespace" && remote.objects("", "namespaces").some((n) => n.metadata.name === NS))
        continue;
      await objects.create(o);
    }
    installMutatingWebhooks(remote, {
      // The API server reaches a Service through its EndpointSlices: here, the generated one that
      // points at the primary. The test's injector cannot bind 15017, so that port maps to its own.
      resolveService: (ref) => {
        const slice = remote
          .objects("discovery.k8s.io", "endpointslices", ref.namespace)
          .find(
            (s) => (s.metadata.labels as Record<string, string>)?.["kubernetes.io/service-name"] === ref.name,
          ) as { endpoints: { addresses: string[] }[]; ports: { port: number }[] } | undefined;
        const host = slice?.endpoints[0]?.addresses[0];
        if (!host || slice?.ports[0]?.port !== WEBHOOK_PORT) return undefined;
        return { host, port: injectorPort };
      },
    });
    const ns = await rawRequest(remote, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "shop", labels: { "istio-injection": "enabled" } },
    });
    assert.equal(ns.status, 201);
  });

  after(async () => {
    await injector.server.close();
    await remote?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a pod created in the remote cluster is injected with its cluster id, network and the primary's discovery address", async () => {
    const created = await rawRequest<Pod>(remote, "POST", "/api/v1/namespaces/shop/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "reviews-1", labels: { app: "reviews" } },
      spec: { containers: [{ name: "app", image: "reviews:1", ports: [{ containerPort: 9080 }] }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const proxy = created.body.spec?.containers.find((c) => c.name === "istio-proxy");
    assert.ok(proxy, "the pod has the sidecar");
    const args = proxy.args ?? [];
    const bootstrap = JSON.parse(args[args.indexOf("--config-yaml") + 1] ?? "{}");
    assert.equal(bootstrap.node.metadata.CLUSTER_ID, "cluster2");
    assert.equal(bootstrap.node.metadata.NETWORK, "network2");
    // The sidecar dials the primary's TLS xDS port, as Istio's proxies do.
    const ads = bootstrap.dynamic_resources.ads_config.grpc_services[0];
    assert.equal(ads.google_grpc.target_uri, `remora-pilot.${NS}.svc:15012`);
    // That name resolves in the remote cluster: to the primary, through the generated Service.
    const slice = remote
      .objects("discovery.k8s.io", "endpointslices", NS)
      .find((s) => s.metadata.name === "remora-pilot-primary") as unknown as {
      endpoints: { addresses: string[] }[];
    };
    assert.deepEqual(slice.endpoints[0]?.addresses, ["127.0.0.1"]);
  });
});
