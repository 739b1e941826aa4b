// Secrets through the Kubernetes source (against the fake API server): token and Helm Secrets
// are excluded by the watch's field selector, other Secrets without credential keys are not
// kept, credential Secrets are reduced to their TLS keys, and a Secret losing its keys is gone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor } from "../../../test/fake-apiserver/index.ts";
import { KUBE_KINDS } from "./kinds.ts";
import { createKubeSource } from "./kube-source.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("the kube source keeps only credential Secrets, and only their TLS keys", async () => {
  const server = await FakeApiServer.start({});
  const kc = kubeConfigFor(server);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "gw" } } });
  const create = (name: string, type: string, data: Record<string, string>) =>
    core.createNamespacedSecret({ namespace: "gw", body: { metadata: { name }, type, data } });
  await create("token", "kubernetes.io/service-account-token", { token: b64("t"), "ca.crt": b64("c") });
  await create("release", "helm.sh/release.v1", { release: b64("r") });
  await create("docker", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": b64("{}") });
  await create("cert", "kubernetes.io/tls", { "tls.crt": b64("C"), "tls.key": b64("K"), extra: b64("x") });
  const source = createKubeSource({ kubeConfig: kc, kinds: KUBE_KINDS.filter((k) => k.kind === "Secret") });
  const secrets = () =>
    source
      .contents()
      .objects.map((o) => o as { metadata?: { name?: string }; data?: Record<string, string> })
      .map((o) => `${o.metadata?.name}:${Object.keys(o.data ?? {}).join(",")}`);
  try {
    await source.start();
    await source.whenSynced();
    assert.deepEqual(secrets(), ["cert:tls.crt,tls.key"]);
    await create("late", "Opaque", { cacert: b64("CA") });
    await core.replaceNamespacedSecret({
      name: "cert",
      namespace: "gw",
      body: { metadata: { name: "cert" }, type: "kubernetes.io/tls", data: { other: b64("x") } },
    });
    const end = Date.now() + 10_000;
    while (JSON.stringify(secrets()) !== JSON.stringify(["late:cacert"])) {
      if (Date.now() > end) assert.deepEqual(secrets(), ["late:cacert"]);
      await new Promise((r) => setTimeout(r, 10));
    }
    const watch = source.watches.get("Secret");
    assert.ok(!JSON.stringify(watch?.list()).includes(b64("x")));
  } finally {
    await source.stop();
    await server.stop();
  }
});
