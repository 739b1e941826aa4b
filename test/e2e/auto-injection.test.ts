// Namespace-label auto-injection end to end: Remora's generated manifests (default and canary
// revisions) applied to the fake API server, two injectors sharing nothing but the cluster, the
// API server calling them over TLS it verifies against the caBundle the injectors patched in,
// and pods stored with or without the sidecar exactly as Istio's selector rules say. Every patch
// the webhook returned must also apply with `kubectl patch --local --type=json` to the same pod.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { generateCa, generateServingCert } from "../../injector/certs/generate.ts";
import { defaultManifestOptions, generateManifests } from "../../injector/manifest/generate.ts";
import { generateManifestYaml } from "../../injector/manifest/render.ts";
import { type RunningInjector, startInjector } from "../../injector/server/run-injector.ts";
import { installMutatingWebhooks, type WebhookCall } from "../fake-apiserver/admission-webhooks.ts";
import { FakeApiServer, installManifestResources, kubeconfigYaml } from "../fake-apiserver/index.ts";
import { collectionPath as collectionPathOf, rawRequest } from "../fake-apiserver/rest-client.ts";
import { findCommand, requires } from "../helpers/privileged.ts";

const run = promisify(execFile);

/** A JSON object as the API server returns it. */
type Json = { [key: string]: Json } & {
  message?: string;
  metadata: { name: string; namespace?: string };
} & Record<string, unknown>;
const tmp = mkdtempSync(join(tmpdir(), "remora-e2e-inject-"));

let api: FakeApiServer;
let plugin: ReturnType<typeof installMutatingWebhooks>;
const injectors: Record<string, RunningInjector> = {};
/** Service name → the local port its injector listens on (kept after an injector stops). */
const servicePorts = new Map<string, number>();

function kube(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return rawRequest<Json>(api, method, path, body);
}

function collectionPath(obj: Record<string, unknown>): string {
  return collectionPathOf(api, obj);
}

async function applyAll(objects: Record<string, unknown>[]): Promise<void> {
  for (const obj of objects) {
    const r = await kube("POST", collectionPath(obj), obj);
    // The namespace and CRDs are shared by both revisions.
    if (r.status === 409) continue;
    assert.ok(
      r.status === 201 || r.status === 200,
      `${obj.kind}: HTTP ${r.status} ${JSON.stringify(r.body)}`,
    );
  }
}

function configMapFile(objects: Record<string, unknown>[], key: string, rev: string): string {
  const cm = objects.find((o) => o.kind === "ConfigMap") as { data: Record<string, string> };
  const file = join(tmp, rev, key);
  writeFileSync(file, cm.data[key] as string);
  return file;
}

async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createNamespace(name: string, labels: Record<string, string>) {
  const r = await kube("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

function pod(name: string, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      containers: [
        {
          name: "app",
          image: "docker.io/library/nginx:1.27",
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: "/ready", port: 8080 } },
        },
        { name: "sidecar-log", image: "busybox:1.36", command: ["sh", "-c", "tail -f /dev/null"] },
      ],
    },
  };
}

async function createPod(ns: string, p: Pod): Promise<{ status: number; body: Json }> {
  return kube("POST", `/api/v1/namespaces/${ns}/pods`, p);
}

function sidecarRevision(stored: Pod): string | undefined {
  const status = stored.metadata?.annotations?.["sidecar.istio.io/status"];
  if (!status) return undefined;
  const names = [...(stored.spec?.containers ?? []), ...(stored.spec?.initContainers ?? [])].map(
    (c) => c.name,
  );
  assert.ok(names.includes("istio-proxy"), `status annotation without istio-proxy: ${names}`);
  return JSON.parse(status).revision as string;
}

describe("namespace-label auto-injection through the fake API server", () => {
  before(async () => {
    api = await FakeApiServer.start({ tls: true });
    // The install manifests also carry Deployments and PodDisruptionBudgets (storage only).
    for (const r of installManifestResources()) api.registry.add(r);
    const kubeconfig = join(tmp, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(api));

    const revisions = { default: "default", canary: "canary" } as const;
    for (const rev of Object.values(revisions)) {
      const options = { ...defaultManifestOptions(), revision: rev, skipCrds: rev !== "default" };
      const objects = generateManifests(options);
      mkdirSync(join(tmp, rev));
      const kubectl = findCommand("kubectl");
      if (kubectl) {
        // The way users install: `remora manifest generate | kubectl apply -f -` (no /openapi here,
        // so kubectl's client-side schema validation is off; the apply itself is real).
        const file = join(tmp, rev, "manifests.yaml");
        writeFileSync(file, generateManifestYaml(options));
        await run(kubectl, ["--kubeconfig", kubeconfig, "apply", "--validate=false", "-f", file]);
      } else {
        await applyAll(objects);
      }
      injectors[rev] = await startInjector({
        port: 0,
        monitoringPort: 0,
        host: "127.0.0.1",
        kubeconfig,
        namespace: "remora-system",
        revision: rev,
        tlsSecret: rev === "default" ? "remora-injector-tls" : `remora-injector-tls-${rev}`,
        certDir: join(tmp, rev, "certs"),
        meshConfigFile: configMapFile(objects, "mesh", rev),
        injectConfigFile: configMapFile(objects, "injection", rev),
        identity: `remora-${rev}-0`,
        reconcileMs: 200,
        logLevel: "warn",
      });
      servicePorts.set(rev === "default" ? "remora-injector" : `remora-injector-${rev}`, injectors[rev].port);
    }
    plugin = installMutatingWebhooks(api, {
      resolveService: (ref) => {
        if (ref.namespace !== "remora-system" || ref.port !== 443) return undefined;
        const port = servicePorts.get(ref.name);
        return port ? { host: "127.0.0.1", port } : undefined;
      },
    });
    // The leaders patch their CA into their own webhook configuration.
    const caBundles = () =>
      api
        .objects("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
        .flatMap((c) =>
          (c.webhooks as { clientConfig: { caBundle: string } }[]).map((w) => w.clientConfig.caBundle),
        );
    await waitFor(
      "both caBundles to be patched",
      () => caBundles().length === 6 && caBundles().every((b) => b !== ""),
    );

    await createNamespace("enabled", { "istio-injection": "enabled" });
    await createNamespace("plain", {});
    await createNamespace("canary-ns", { "istio.io/rev": "canary" });
    await createNamespace("both-labels", { "istio-injection": "enabled", "istio.io/rev": "canary" });
    await createNamespace("disabled", { "istio-injection": "disabled" });
  });

  after(async () => {
    plugin?.remove();
    for (const i of Object.values(injectors)) await i.close();
    await api?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const cases: [string, string, Record<string, string>, string | undefined][] = [
    ["istio-injection=enabled namespace", "enabled", {}, "default"],
    ["unlabelled namespace", "plain", {}, undefined],
    [
      "istio-injection=enabled, pod inject=false",
      "enabled",
      { "sidecar.istio.io/inject": "false" },
      undefined,
    ],
    ["istio.io/rev=canary namespace", "canary-ns", {}, "canary"],
    [
      "istio.io/rev=canary namespace, pod inject=false",
      "canary-ns",
      { "sidecar.istio.io/inject": "false" },
      undefined,
    ],
    ["unlabelled namespace, pod inject=true", "plain", { "sidecar.istio.io/inject": "true" }, "default"],
    ["unlabelled namespace, pod istio.io/rev=canary", "plain", { "istio.io/rev": "canary" }, "canary"],
    ["istio-injection beats istio.io/rev on the namespace", "both-labels", {}, "default"],
    [
      "istio-injection=enabled overrides the pod's istio.io/rev",
      "enabled",
      { "istio.io/rev": "canary" },
      "default",
    ],
    [
      "istio-injection=disabled beats pod inject=true",
      "disabled",
      { "sidecar.istio.io/inject": "true" },
      undefined,
    ],
  ];
  cases.forEach(([what, ns, labels, want], i) => {
    test(`${what}: ${want ? `injected by the ${want} revision` : "not injected"}`, async () => {
      const before = plugin.calls.length;
      const r = await createPod(ns, pod(`pod-${i}`, labels));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const stored = api.store.get("/pods", ns, `pod-${i}`) as unknown as Pod;
      assert.equal(sidecarRevision(stored), want);
      const called = plugin.calls.slice(before).filter((c) => c.patch);
      assert.equal(called.length, want ? 1 : 0, "exactly one webhook injects");
      if (want)
        assert.match(called[0]!.configuration, want === "default" ? /^remora-sidecar-injector$/ : /-canary$/);
    });
  });

  test("a pod the API server receives without a name (generateName) is injected", async () => {
    const p = pod("unused");
    p.metadata = { generateName: "web-", labels: { app: "web" } };
    const r = await createPod("enabled", p);
    assert.equal(r.status, 201);
    assert.equal(sidecarRevision(r.body), "default");
  });

  test(
    "every returned patch applies with kubectl patch --local to the same result",
    requires({ commands: ["kubectl"] }),
    async () => {
      const withPatch: WebhookCall[] = plugin.calls.filter((c) => c.patch);
      assert.ok(withPatch.length >= 6);
      const kubectl = findCommand("kubectl") as string;
      for (const [i, c] of withPatch.entries()) {
        const file = join(tmp, `before-${i}.json`);
        writeFileSync(file, JSON.stringify(c.before));
        const { stdout } = await run(
          kubectl,
          ["patch", "--local", "--type=json", "-p", JSON.stringify(c.patch), "-f", file, "-o", "json"],
          { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, KUBECONFIG: "/dev/null" } },
        );
        assert.deepEqual(JSON.parse(stdout), c.after, `kubectl's result differs for ${c.webhook} call ${i}`);
      }
    },
  );

  test("reinvocationPolicy IfNeeded: a later webhook's label reaches the sidecar on reinvocation, still one sidecar", async () => {
    // A second webhook, ordered after Remora's by configuration name, that adds a label.
    const stubCa = generateCa();
    const cert = generateServingCert({ ca: stubCa, dnsNames: ["labeler.remora-system.svc"] });
    const stub = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const review = JSON.parse(Buffer.concat(chunks).toString());
        const patch = [{ op: "add", path: "/metadata/labels/touched", value: "yes" }];
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            apiVersion: review.apiVersion,
            kind: "AdmissionReview",
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: "JSONPatch",
              patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
    servicePorts.set("labeler", (stub.address() as { port: number }).port);
    const key = "admissionregistration.k8s.io/mutatingwebhookconfigurations";
    const ours = api.store.get(key, undefined, "remora-sidecar-injector")!;
    const setPolicy = (policy: string) =>
      api.store.update(key, {
        ...api.store.get(key, undefined, "remora-sidecar-injector")!,
        webhooks: (ours.webhooks as Record<string, unknown>[]).map((w) => ({
          ...w,
          reinvocationPolicy: policy,
        })),
      });
    setPolicy("IfNeeded");
    api.store.create(key, {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: "zz-labeler" },
      webhooks: [
        {
          name: "labeler.example.com",
          clientConfig: {
            service: { name: "labeler", namespace: "remora-system", path: "/" },
            caBundle: Buffer.from(stubCa.certPem).toString("base64"),
          },
          rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Fail",
          timeoutSeconds: 5,
        },
      ],
    });
    try {
      const before = plugin.calls.length;
      const r = await createPod("enabled", pod("reinvoked"));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const calls = plugin.calls.slice(before);
      assert.deepEqual(
        calls.map((c) => [c.webhook, c.reinvocation]),
        [
          ["namespace.sidecar-injector.istio.io", false],
          ["labeler.example.com", false],
          ["namespace.sidecar-injector.istio.io", true],
        ],
      );
      // Re-injection only refreshes the sidecar (its bootstrap carries the pod's labels).
      for (const op of calls[2]?.patch ?? []) assert.match(op.path, /^\/spec\/containers\/2\//);
      const stored = r.body as unknown as Pod;
      assert.equal(stored.metadata?.labels?.touched, "yes");
      const proxies = [...(stored.spec?.containers ?? []), ...(stored.spec?.initContainers ?? [])].filter(
        (c) => c.name === "istio-proxy",
      );
      assert.equal(proxies.length, 1);
      assert.match(JSON.stringify(proxies[0]), /touched/);
    } finally {
      api.store.delete(key, undefined, "zz-labeler");
      setPolicy("Never");
      stub.closeAllConnections();
      await new Promise((r) => stub.close(r));
    }
  });

  test("with the canary injector gone, failurePolicy Fail rejects pod creation in its namespace", async () => {
    await injectors.canary?.close();
    delete injectors.canary;
    const r = await createPod("canary-ns", pod("after-outage"));
    assert.notEqual(r.status, 201);
    assert.match(
      String(r.body.message),
      /failed calling webhook "rev\.namespace\.sidecar-injector\.istio\.io"/,
    );
    // Namespaces the default revision serves are unaffected.
    assert.equal((await createPod("enabled", pod("still-fine"))).status, 201);
  });

  test("the stored install matches the manifests (applied with kubectl when present)", () => {
    const configs = api.objects("admissionregistration.k8s.io", "mutatingwebhookconfigurations");
    assert.deepEqual(configs.map((c) => c.metadata.name).sort(), [
      "remora-sidecar-injector",
      "remora-sidecar-injector-canary",
    ]);
    const deployments = api.objects("apps", "deployments", "remora-system").map((d) => d.metadata.name);
    assert.deepEqual(deployments.sort(), ["remora", "remora-canary"]);
    if (findCommand("kubectl")) {
      const annotations =
        (configs[0]!.metadata as { annotations?: Record<string, string> }).annotations ?? {};
      assert.ok("kubectl.kubernetes.io/last-applied-configuration" in annotations);
    }
  });
});
