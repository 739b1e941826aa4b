// Configuration from a ConfigMap read through the API (fake API server): not ready until the
// ConfigMap exists, a change applies without a restart, broken content keeps the last good config.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FakeApiServer, kubeconfigYaml } from "../../test/fake-apiserver/index.ts";
import { makeReview, typicalPod } from "../webhook/review-fixtures.test-support.ts";
import { startInjector } from "./run-injector.ts";

const tmp = mkdtempSync(join(tmpdir(), "remora-configmap-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("the injector follows its ConfigMap", async () => {
  const api = await FakeApiServer.start({ namespaces: ["default", "remora-system"] });
  const kubeconfig = join(tmp, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(api));
  const injector = await startInjector({
    port: 0,
    monitoringPort: 0,
    host: "127.0.0.1",
    kubeconfig,
    namespace: "remora-system",
    configMap: "remora",
    configPollMs: 50,
    certDir: join(tmp, "certs"),
    logLevel: "silent",
  });
  const app = injector.server.app;
  const image = async () => {
    const res = await app.inject({
      method: "POST",
      url: "/inject",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify(makeReview(typicalPod())),
    });
    if (res.statusCode !== 200) return `HTTP ${res.statusCode}`;
    const patch = Buffer.from(res.json().response.patch, "base64").toString();
    return /example\.com\/proxy:v\d/.exec(patch)?.[0];
  };
  const until = async (want: string | undefined) => {
    let got: string | undefined;
    for (let i = 0; i < 100; i++) {
      got = await image();
      if (got === want) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(got, want);
  };
  const cm = (proxy: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "remora", namespace: "remora-system" },
    data: { injection: `images:\n  proxy: ${proxy}\n`, mesh: "trustDomain: cluster.local\n" },
  });
  const path = "/api/v1/namespaces/remora-system/configmaps";
  const send = async (method: string, url: string, body: unknown) => {
    const r = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.ok(r.ok, `${method} ${url}: HTTP ${r.status}`);
  };
  try {
    assert.equal((await app.inject({ url: "/ready" })).statusCode, 503);
    assert.equal(await image(), "HTTP 503");
    await send("POST", `${api.url}${path}`, cm("example.com/proxy:v1"));
    await until("example.com/proxy:v1");
    assert.equal((await app.inject({ url: "/ready" })).statusCode, 200);
    await send("PUT", `${api.url}${path}/remora`, cm("example.com/proxy:v2"));
    await until("example.com/proxy:v2");
    const broken = cm("x");
    broken.data.injection = "images: [not, closed\n";
    await send("PUT", `${api.url}${path}/remora`, broken);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await image(), "example.com/proxy:v2");
  } finally {
    await injector.close();
    await api.stop();
  }
});
