// Istio config validation end to end: Remora's generated manifests applied to the fake API server,
// an injector serving `/validate` with pilot's Istio validation, the leader patching the
// ValidatingWebhookConfiguration's caBundle, and the API server calling the webhook over TLS it
// verifies against that caBundle. Valid VirtualServices are stored; invalid ones (created, updated,
// or applied with the real kubectl) are denied with the diagnostic's code and field path, and
// nothing invalid reaches the store.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { defaultManifestOptions, generateManifests } from "../../injector/manifest/generate.ts";
import { type RunningInjector, startInjector } from "../../injector/server/run-injector.ts";
import { istioValidateFn } from "../../pilot/server/validate-webhook.ts";
import { installMutatingWebhooks, installValidatingWebhooks } from "../fake-apiserver/admission-webhooks.ts";
import { FakeApiServer, installManifestResources, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { collectionPath as collectionPathOf, rawRequest } from "../fake-apiserver/rest-client.ts";
import { findCommand, requires } from "../helpers/privileged.ts";

const run = promisify(execFile);
type Json = Record<string, unknown> & { message?: string; metadata?: { resourceVersion?: string } };

const tmp = mkdtempSync(join(tmpdir(), "remora-e2e-validate-"));
const NS = "default";
const VS_PATH = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`;

// Install manifests carry workload and policy objects too; served for storage only.
const EXTRA = installManifestResources();

let api: FakeApiServer;
let injector: RunningInjector;
let kubeconfig: string;
const removers: (() => void)[] = [];

function kube(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return rawRequest<Json>(api, method, path, body);
}

function collectionPath(obj: Record<string, unknown>): string {
  return collectionPathOf(api, obj);
}

function virtualService(name: string, weight?: number): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: NS },
    spec: {
      hosts: ["reviews"],
      http: [{ route: [{ destination: { host: "reviews" }, ...(weight === undefined ? {} : { weight }) }] }],
    },
  };
}

const stored = (name: string) =>
  api.store.get("networking.istio.io/virtualservices", NS, name) as Json | undefined;

describe("Istio config validation through the fake API server", () => {
  before(async () => {
    api = await FakeApiServer.start({ tls: true });
    for (const r of EXTRA) api.registry.add(r);
    kubeconfig = join(tmp, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(api));
    for (const obj of generateManifests(defaultManifestOptions())) {
      const r = await kube("POST", collectionPath(obj), obj);
      assert.ok(
        r.status === 201 || r.status === 409,
        `${obj.kind}: HTTP ${r.status} ${JSON.stringify(r.body)}`,
      );
    }
    injector = await startInjector({
      port: 0,
      monitoringPort: 0,
      host: "127.0.0.1",
      kubeconfig,
      namespace: "remora-system",
      tlsSecret: "remora-injector-tls",
      certDir: join(tmp, "certs"),
      identity: "remora-0",
      reconcileMs: 200,
      logLevel: "warn",
      validate: istioValidateFn(),
    });
    const resolveService = (ref: { namespace: string; name: string; port: number }) =>
      ref.namespace === "remora-system" && ref.name === "remora-injector" && ref.port === 443
        ? { host: "127.0.0.1", port: injector.port }
        : undefined;
    // Both phases, as in a real API server: mutation (pods only here) first, then validation.
    removers.push(installMutatingWebhooks(api, { resolveService }).remove);
    const validating = installValidatingWebhooks(api, { resolveService });
    removers.push(validating.remove);
    // The leader patches its CA into the validating configuration as well as the mutating one.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const cfg = api.objects("admissionregistration.k8s.io", "validatingwebhookconfigurations");
      const bundles = cfg.flatMap((c) =>
        (c.webhooks as { clientConfig: { caBundle: string } }[]).map((w) => w.clientConfig.caBundle),
      );
      if (cfg.length === 1 && bundles.length === 1 && bundles.every((b) => b !== "")) break;
      if (Date.now() > deadline) assert.fail("the ValidatingWebhookConfiguration's caBundle was not patched");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    for (const remove of removers) remove();
    await injector?.close();
    await api?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("the generated configuration is named for the namespace and points at /validate", () => {
    const [cfg] = api.objects("admissionregistration.k8s.io", "validatingwebhookconfigurations");
    assert.ok(cfg);
    assert.equal(cfg.metadata.name, "remora-validator-remora-system");
    const hook = (cfg.webhooks as { clientConfig: { service: { path: string } } }[])[0];
    assert.equal(hook?.clientConfig.service.path, "/validate");
  });

  test("a valid VirtualService is stored", async () => {
    const r = await kube("POST", VS_PATH, virtualService("good", 100));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(stored("good"));
  });

  test("an invalid VirtualService is denied with the code and field path; nothing is stored", async () => {
    const r = await kube("POST", VS_PATH, virtualService("bad", -5));
    assert.notEqual(r.status, 201);
    assert.match(
      r.body.message ?? "",
      /admission webhook "validation\.istio\.io" denied the request: VirtualService default\/bad is invalid: VS\d{4} spec\.http\[0\]\.route\[0\]\.weight: /,
    );
    assert.equal(stored("bad"), undefined);
  });

  test("updating a stored VirtualService into an invalid state is denied; the stored one is unchanged", async () => {
    await kube("POST", VS_PATH, virtualService("to-update", 100));
    const before = structuredClone(stored("to-update"));
    assert.ok(before);
    const next = { ...virtualService("to-update", -1), metadata: { ...before.metadata } };
    const r = await kube("PUT", `${VS_PATH}/to-update`, next);
    assert.notEqual(r.status, 200);
    assert.match(r.body.message ?? "", /spec\.http\[0\]\.route\[0\]\.weight/);
    assert.deepEqual(stored("to-update"), before);
  });

  test("deleting is never refused", async () => {
    await kube("POST", VS_PATH, virtualService("to-delete", 100));
    const r = await kube("DELETE", `${VS_PATH}/to-delete`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(stored("to-delete"), undefined);
  });

  test(
    "kubectl apply --validate=false: valid applied, invalid refused with the message",
    requires({ commands: ["kubectl"] }),
    async () => {
      const kubectl = findCommand("kubectl") as string;
      const file = (name: string, weight: number) => {
        const f = join(tmp, `${name}.json`);
        writeFileSync(f, JSON.stringify(virtualService(name, weight)));
        return f;
      };
      await run(kubectl, [
        "--kubeconfig",
        kubeconfig,
        "apply",
        "--validate=false",
        "-f",
        file("kubectl-good", 100),
      ]);
      assert.ok(stored("kubectl-good"));
      const refused = await run(kubectl, [
        "--kubeconfig",
        kubeconfig,
        "apply",
        "--validate=false",
        "-f",
        file("kubectl-bad", -3),
      ]).then(
        () => assert.fail("kubectl apply of an invalid VirtualService succeeded"),
        (err: { stderr: string }) => err.stderr,
      );
      assert.match(
        refused,
        /denied the request: VirtualService default\/kubectl-bad is invalid: VS\d{4} spec\.http\[0\]\.route\[0\]\.weight/,
      );
      assert.equal(stored("kubectl-bad"), undefined);
    },
  );
});
