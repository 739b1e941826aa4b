// The plugin's small Kubernetes client: kubeconfig reading (JSON from the installer, YAML with
// file references by hand, refused exec credentials), bounded requests, and the pod lookup's
// retries against the in-repo fake API server (HTTPS, injected faults, an outage).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeApiServer, storageKey } from "../test/fake-apiserver/index.ts";
import { kubeconfigText } from "./install-kubeconfig.ts";
import { KubeUnreachable, kubeRequest } from "./kube-request.ts";
import type { KubeConnection } from "./kubeconfig.ts";
import { KubeconfigError, loadKubeconfig, parseKubeconfig, readBounded } from "./kubeconfig.ts";
import { checkPodRef, fetchPod } from "./pod-lookup.ts";
import { CniError } from "./protocol.ts";

/** Lookups straight from the API server, as without a node agent. */
const viaApi = (c: KubeConnection) => ({ agentSocket: "", kube: () => c });

let tmp = "";
let api: FakeApiServer;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "remora-cni-kube-"));
  api = await FakeApiServer.start({ tls: true, namespaces: ["default", "shop"] });
  api.store.create(storageKey(api.resource("", "pods")), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web-0", namespace: "shop", annotations: { big: "x".repeat(10_000) } },
    spec: { containers: [{ name: "app", image: "a" }] },
  });
});
after(async () => {
  await api.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function installerKubeconfig(server = api.url): string {
  const p = join(tmp, `kc-${Math.random().toString(16).slice(2)}`);
  writeFileSync(p, kubeconfigText({ server, caPem: api.tls?.cert ?? "", token: "t0" }));
  return p;
}

describe("kubeconfig", () => {
  test("the installer's JSON kubeconfig: server, inline CA, token", () => {
    const c = loadKubeconfig(installerKubeconfig());
    assert.equal(c.server, api.url);
    assert.equal(c.token, "t0");
    assert.equal(c.ca?.toString(), api.tls?.cert);
  });

  test("YAML with files relative to the kubeconfig, tokenFile and tls-server-name", () => {
    writeFileSync(join(tmp, "ca.pem"), "CA");
    writeFileSync(join(tmp, "tok"), "file-token\n");
    const yaml = [
      "apiVersion: v1",
      "kind: Config",
      "current-context: here",
      "contexts:",
      "- name: here",
      "  context: {cluster: c, user: u}",
      "clusters:",
      "- name: c",
      "  cluster:",
      "    server: https://10.96.0.1:443/",
      "    certificate-authority: ca.pem",
      "    tls-server-name: kubernetes.default.svc",
      "users:",
      "- name: u",
      "  user: {tokenFile: tok}",
      "",
    ].join("\n");
    const c = parseKubeconfig(yaml, join(tmp, "config"));
    assert.equal(c.server, "https://10.96.0.1:443");
    assert.equal(c.ca?.toString(), "CA");
    assert.equal(c.tokenFile, join(tmp, "tok"));
    assert.equal(c.tlsServerName, "kubernetes.default.svc");
  });

  test("exec credentials, a missing server and a missing context are clear errors", () => {
    const base = {
      clusters: [{ name: "c", cluster: { server: "https://x" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    };
    const withUser = (user: unknown) => JSON.stringify({ ...base, users: [{ name: "u", user }] });
    assert.throws(
      () => parseKubeconfig(withUser({ exec: { command: "aws" } }), "/k"),
      /exec and auth-provider/,
    );
    assert.throws(
      () => parseKubeconfig(JSON.stringify({ ...base, "current-context": "nope", users: [] }), "/k"),
      /no context named "nope"/,
    );
    assert.throws(
      () =>
        parseKubeconfig(JSON.stringify({ ...base, clusters: [{ name: "c", cluster: {} }], users: [] }), "/k"),
      KubeconfigError,
    );
    assert.throws(() => loadKubeconfig(join(tmp, "absent")), /cannot read kubeconfig/);
  });

  test("files are read up to a limit, never truncated", () => {
    const big = join(tmp, "big");
    writeFileSync(big, "x".repeat(10_000));
    assert.equal(readBounded(big, 10_000).length, 10_000);
    assert.throws(() => readBounded(big, 9_999), /larger than 9999 bytes/);
    assert.equal(
      readBounded("/proc/self/status", 1 << 20)
        .toString()
        .includes("Name:"),
      true,
    );
  });
});

describe("requests and the pod lookup", () => {
  test("GET over TLS with the CA; a body over the limit is refused, not truncated", async () => {
    const c = loadKubeconfig(installerKubeconfig());
    const r = await kubeRequest(c, "/api/v1/namespaces/shop/pods/web-0");
    assert.equal(r.status, 200);
    await assert.rejects(
      kubeRequest(c, "/api/v1/namespaces/shop/pods/web-0", { maxBytes: 1000 }),
      (e: Error) => e instanceof KubeUnreachable && /larger than 1000 bytes/.test(e.message),
    );
  });

  test("a TLS server not signed by the kubeconfig's CA is not trusted", async () => {
    const kc = join(tmp, "wrong-ca");
    writeFileSync(
      kc,
      kubeconfigText({
        server: api.url,
        caPem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        token: "t",
      }),
    );
    await assert.rejects(kubeRequest(loadKubeconfig(kc), "/api/v1/namespaces"), KubeUnreachable);
  });

  test("failures are retried until the pod is read", async () => {
    api.failNext(3, { reason: "InternalError" });
    const pod = await fetchPod(viaApi(loadKubeconfig(installerKubeconfig())), "shop", "web-0", {
      deadlineMs: 10_000,
    });
    assert.equal(pod.metadata?.name, "web-0");
  });

  test("an API that stays away ends in 11 after the deadline, naming the last error", async () => {
    const c = loadKubeconfig(installerKubeconfig("https://127.0.0.1:1"));
    const t0 = Date.now();
    await assert.rejects(fetchPod(viaApi(c), "shop", "web-0", { deadlineMs: 1500 }), (e: Error) => {
      assert.ok(e instanceof CniError);
      assert.equal(e.code, 11);
      assert.match(e.details, /attempts over 1.5 s; last: 127.0.0.1:1: connect ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000);
    const gone = await fetchPod(viaApi(loadKubeconfig(installerKubeconfig())), "shop", "absent", {
      deadlineMs: 300,
    }).catch((e: CniError) => e);
    assert.match((gone as CniError).details, /HTTP 404/);
  });

  test("pod references are checked before they go into a URL", () => {
    assert.throws(() => checkPodRef("shop", "../x"), /K8S_POD_NAME/);
    assert.throws(() => checkPodRef("Shop", "web"), /K8S_POD_NAMESPACE/);
    checkPodRef("shop", "web-0.x");
  });
});
