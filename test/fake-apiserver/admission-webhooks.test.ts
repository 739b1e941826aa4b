// The fake API server's Mutating- and ValidatingWebhookConfiguration plug-ins against a stub
// webhook: selectors, TLS verification against caBundle, timeouts, failurePolicy Fail and Ignore,
// denials, patches, and validation seeing the mutated object.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { after, before, describe, test } from "node:test";
import { generateCa, generateServingCert } from "../../injector/certs/generate.ts";
import { installMutatingWebhooks, installValidatingWebhooks, matchesSelector } from "./admission-webhooks.ts";
import { FakeApiServer } from "./index.ts";

let api: FakeApiServer;
let stub: Server;
let stubPort = 0;
let mode: "patch" | "slow" | "deny" = "patch";
/** Labels of the objects the stub's `/validate` saw. */
const validated: Record<string, string>[] = [];
const ca = generateCa();
const otherCa = generateCa();

before(async () => {
  const cert = generateServingCert({ ca, dnsNames: ["stub.hooks.svc"] });
  stub = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString());
      const answer = (response: Record<string, unknown>) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            apiVersion: review.apiVersion,
            kind: "AdmissionReview",
            response: { uid: review.request.uid, ...response },
          }),
        );
      };
      if (req.url === "/validate") {
        const labels = review.request.object?.metadata?.labels ?? {};
        validated.push(labels);
        if (labels.deny) answer({ allowed: false, status: { code: 400, message: "validator says no" } });
        else {
          // A validating webhook's patch must be ignored by the API server.
          const patch = [{ op: "add", path: "/metadata/labels/validated", value: "yes" }];
          const b64 = Buffer.from(JSON.stringify(patch)).toString("base64");
          answer({ allowed: true, patchType: "JSONPatch", patch: b64, warnings: ["looked at it"] });
        }
      } else if (mode === "slow") setTimeout(() => answer({ allowed: true }), 2500);
      else if (mode === "deny") answer({ allowed: false, status: { code: 400, message: "no pods today" } });
      else {
        const patch = [{ op: "add", path: "/metadata/labels/stubbed", value: "yes" }];
        answer({
          allowed: true,
          patchType: "JSONPatch",
          patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
        });
      }
    });
  });
  await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
  stubPort = (stub.address() as { port: number }).port;
  api = await FakeApiServer.start({ namespaces: ["default", "hooks", "ns-on", "ns-off"] });
  api.store.update("/namespaces", {
    ...api.store.get("/namespaces", undefined, "ns-on")!,
    metadata: { name: "ns-on", labels: { hook: "on" } },
  });
});

after(async () => {
  await api.stop();
  stub.closeAllConnections();
  await new Promise((r) => stub.close(r));
});

function configure(policy: "Fail" | "Ignore", timeoutSeconds: number, caPem = ca.certPem) {
  for (const c of api.objects("admissionregistration.k8s.io", "mutatingwebhookconfigurations")) {
    api.store.delete(
      "admissionregistration.k8s.io/mutatingwebhookconfigurations",
      undefined,
      c.metadata.name,
    );
  }
  api.store.create("admissionregistration.k8s.io/mutatingwebhookconfigurations", {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: "stub" },
    webhooks: [
      {
        name: "stub.example.com",
        clientConfig: {
          service: { name: "stub", namespace: "hooks", path: "/mutate" },
          caBundle: Buffer.from(caPem).toString("base64"),
        },
        rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
        namespaceSelector: { matchLabels: { hook: "on" } },
        objectSelector: { matchExpressions: [{ key: "skip", operator: "DoesNotExist" }] },
        admissionReviewVersions: ["v1beta1"],
        sideEffects: "None",
        failurePolicy: policy,
        timeoutSeconds,
      },
    ],
  });
}

const pods = { n: 0 };
async function createPod(ns: string, labels: Record<string, string> = {}) {
  const name = `p${pods.n++}`;
  const res = await fetch(`${api.url}/api/v1/namespaces/${ns}/pods`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels },
      spec: { containers: [{ name: "c", image: "x" }] },
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { message?: string; metadata?: { labels?: Record<string, string> } },
  };
}

describe("mutating admission plug-in", () => {
  const plugin = { current: undefined as ReturnType<typeof installMutatingWebhooks> | undefined };
  before(() => {
    plugin.current = installMutatingWebhooks(api, {
      resolveService: (ref) =>
        ref.name === "stub" && ref.namespace === "hooks" ? { host: "127.0.0.1", port: stubPort } : undefined,
    });
  });
  after(() => plugin.current?.remove());

  test("selectors pick the calls; the patch is stored; v1beta1 is spoken when asked", async () => {
    mode = "patch";
    configure("Fail", 5);
    const on = await createPod("ns-on");
    assert.equal(on.status, 201);
    assert.equal(on.body.metadata?.labels?.stubbed, "yes");
    assert.equal((await createPod("ns-off")).body.metadata?.labels?.stubbed, undefined);
    assert.equal((await createPod("ns-on", { skip: "1" })).body.metadata?.labels?.stubbed, undefined);
    const last = plugin.current!.calls.at(-1)!;
    assert.equal((last.review as unknown as { apiVersion: string }).apiVersion, "admission.k8s.io/v1beta1");
  });

  test("a denial is returned to the client with the webhook's message", async () => {
    mode = "deny";
    configure("Fail", 5);
    const r = await createPod("ns-on");
    assert.notEqual(r.status, 201);
    assert.match(
      r.body.message ?? "",
      /admission webhook "stub.example.com" denied the request: no pods today/,
    );
  });

  test("timeout: Fail rejects the pod, Ignore stores it unchanged", async () => {
    mode = "slow";
    configure("Fail", 1);
    const failed = await createPod("ns-on");
    assert.notEqual(failed.status, 201);
    assert.match(
      failed.body.message ?? "",
      /failed calling webhook "stub.example.com": context deadline exceeded/,
    );
    configure("Ignore", 1);
    const ignored = await createPod("ns-on");
    assert.equal(ignored.status, 201);
    assert.equal(ignored.body.metadata?.labels?.stubbed, undefined);
    assert.equal(plugin.current!.calls.at(-1)!.ignored, true);
  });

  test("a caBundle that does not sign the webhook's certificate fails the TLS handshake", async () => {
    mode = "patch";
    configure("Fail", 5, otherCa.certPem);
    const r = await createPod("ns-on");
    assert.notEqual(r.status, 201);
    assert.match(
      r.body.message ?? "",
      /failed calling webhook "stub.example.com": .*(certificate|signature)/i,
    );
  });
});

describe("validating admission plug-in", () => {
  const removers: (() => void)[] = [];
  before(() => {
    const resolveService = (ref: { name: string; namespace: string }) =>
      ref.name === "stub" && ref.namespace === "hooks" ? { host: "127.0.0.1", port: stubPort } : undefined;
    removers.push(installMutatingWebhooks(api, { resolveService }).remove);
    const validating = installValidatingWebhooks(api, { resolveService });
    removers.push(validating.remove);
    api.store.create("admissionregistration.k8s.io/validatingwebhookconfigurations", {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "stub-validator" },
      webhooks: [
        {
          name: "validate.example.com",
          clientConfig: {
            service: { name: "stub", namespace: "hooks", path: "/validate" },
            caBundle: Buffer.from(ca.certPem).toString("base64"),
          },
          rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
          namespaceSelector: { matchLabels: { hook: "on" } },
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Fail",
          timeoutSeconds: 5,
        },
      ],
    });
  });
  after(() => {
    for (const r of removers) r();
  });

  test("runs after mutation on the mutated object; its patch is ignored", async () => {
    mode = "patch";
    configure("Fail", 5);
    validated.length = 0;
    const r = await createPod("ns-on");
    assert.equal(r.status, 201);
    assert.equal(validated.at(-1)?.stubbed, "yes");
    assert.equal(r.body.metadata?.labels?.stubbed, "yes");
    assert.equal(r.body.metadata?.labels?.validated, undefined);
  });

  test("a denial is returned with the message and nothing is stored", async () => {
    const before = api.objects("", "pods", "ns-on").length;
    const r = await createPod("ns-on", { deny: "1" });
    assert.notEqual(r.status, 201);
    assert.match(
      r.body.message ?? "",
      /admission webhook "validate.example.com" denied the request: validator says no/,
    );
    assert.equal(api.objects("", "pods", "ns-on").length, before);
  });
});

describe("label selectors", () => {
  test("matchLabels and every operator, as the API server reads them", () => {
    const labels = { a: "1", b: "2" };
    assert.equal(matchesSelector(undefined, labels), true);
    assert.equal(matchesSelector({}, labels), true);
    assert.equal(matchesSelector({ matchLabels: { a: "1" } }, labels), true);
    assert.equal(matchesSelector({ matchLabels: { a: "2" } }, labels), false);
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: "a", operator: "In", values: ["1", "3"] }] }, labels),
      true,
    );
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: "c", operator: "NotIn", values: ["x"] }] }, labels),
      true,
    );
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, labels),
      false,
    );
    assert.equal(matchesSelector({ matchExpressions: [{ key: "b", operator: "Exists" }] }, labels), true);
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: "b", operator: "DoesNotExist" }] }, labels),
      false,
    );
  });
});
