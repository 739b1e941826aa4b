// Fuzzing the webhook: thousands of random and mutated AdmissionReviews (seeded, reproducible)
// must each get a well-formed AdmissionReview answer or a 4xx, never a 5xx, a crash or a hang;
// a few hundred go over the real TLS socket, interleaved with valid requests that must still
// succeed (one bad request never affects another). Every patch is applied to the pod it came
// with, and the result must be a pod the API server accepts as far as injection can break it:
// unique volume and container names, every injected mount naming a volume. The corpus includes
// what broke those before: pods that already have `istio-envoy`, `userVolume` annotations naming
// the pod's own volumes, and probes with wrong-typed `httpHeaders`.
import assert from "node:assert/strict";
import { Agent, request } from "node:https";
import { after, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { applyPatch } from "rfc6902";
import { prng } from "../../test/helpers/prng.ts";
import { generateCa, generateServingCert } from "../certs/generate.ts";
import { defaultInjectionConfig } from "../config.ts";
import { defaultEngine } from "./default-engine.ts";
import { makeReview, typicalPod } from "./review-fixtures.test-support.ts";
import { createInjectorServer } from "./server.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const SOCKET_CASES = 300;

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

const ANNOTATIONS = [
  "sidecar.istio.io/inject",
  "sidecar.istio.io/proxyCPU",
  "sidecar.istio.io/proxyMemory",
  "sidecar.istio.io/interceptionMode",
  "traffic.sidecar.istio.io/includeOutboundIPRanges",
  "traffic.sidecar.istio.io/excludeInboundPorts",
  "traffic.sidecar.istio.io/includeInboundPorts",
  "status.sidecar.istio.io/port",
  "proxy.istio.io/config",
  "sidecar.istio.io/userVolume",
  "sidecar.istio.io/userVolumeMount",
  "sidecar.istio.io/status",
  "sidecar.istio.io/nativeSidecar",
  "inject.istio.io/templates",
  "readiness.status.sidecar.istio.io/periodSeconds",
];

function randomScalar(): unknown {
  return pick([
    () => null,
    () => rand() < 0.5,
    () => int(70000) - 100,
    () => rand() * 1e6,
    () => "",
    () => "x".repeat(int(300)),
    () => String(int(65536)),
    () => "10.0.0.0/8,*,::1/128",
    () => '{"holdApplicationUntilProxyStarts":true}',
    () => "{not json",
    () => "\u0000\uffff\ud800",
    () => "__proto__",
    () => ({ __proto__: { polluted: true } }),
    () => [],
    () => ({}),
  ])();
}

function randomValue(depth: number): unknown {
  if (depth <= 0 || rand() < 0.5) return randomScalar();
  if (rand() < 0.5) return Array.from({ length: int(4) }, () => randomValue(depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = int(4); i > 0; i--)
    o[pick(["name", "image", "spec", "metadata", "containers", "env", "x", "0"])] = randomValue(depth - 1);
  return o;
}

/** Walks to a random node of a JSON value and replaces, deletes or retypes it. */
function mutate(root: unknown): unknown {
  if (rand() < 0.05 || root === null || typeof root !== "object") return randomValue(3);
  let node = root as Record<string, unknown> | unknown[];
  for (let depth = 0; depth < 12; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = pick(keys);
    const child = (node as Record<string, unknown>)[key];
    if (child !== null && typeof child === "object" && rand() < 0.75) {
      node = child as Record<string, unknown>;
      continue;
    }
    const action = int(4);
    if (action === 0) delete (node as Record<string, unknown>)[key];
    else if (action === 1) (node as Record<string, unknown>)[key] = randomScalar();
    else if (action === 2) (node as Record<string, unknown>)[key] = randomValue(3);
    else (node as Record<string, unknown>)[key] = Array.isArray(child) ? {} : [child];
    break;
  }
  return root;
}

/** Shapes that once made injection produce an invalid pod or an internal error. */
function knownTroubles(pod: Pod): void {
  const spec = pod.spec as NonNullable<Pod["spec"]>;
  const annotations = pod.metadata?.annotations as Record<string, string>;
  const r = rand();
  if (r < 0.1)
    spec.volumes = [
      ...(spec.volumes ?? []),
      { name: "istio-envoy", emptyDir: pick([{}, { medium: "Memory" }]) },
    ];
  else if (r < 0.2) {
    const name = pick(["tmp", "istio-envoy", "kube-api-access-abcde", "fresh"]);
    const source = pick([{ emptyDir: {} }, { configMap: { name: "cm" } }, { secret: { secretName: "s" } }]);
    annotations["sidecar.istio.io/userVolume"] = JSON.stringify({ [name]: source });
    annotations["sidecar.istio.io/userVolumeMount"] = JSON.stringify({
      [name]: { mountPath: `/mnt/${name}` },
    });
  } else if (r < 0.3) {
    const probe = spec.containers[0]?.readinessProbe?.httpGet as Record<string, unknown> | undefined;
    if (probe)
      probe.httpHeaders = [
        { name: pick<unknown>(["X-Ok", 7, null, {}, ["h"], true]), value: pick<unknown>(["v", 1, null]) },
      ];
  }
}

/** What the API server would reject in a patched pod because of injection. */
function patchedPodProblems(pod: Pod): string[] {
  const problems: string[] = [];
  const spec = pod.spec;
  if (!spec) return problems;
  const dup = (what: string, names: (string | undefined)[]) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (n === undefined) continue;
      if (seen.has(n)) problems.push(`duplicate ${what} name ${JSON.stringify(n)}`);
      seen.add(n);
    }
  };
  dup(
    "volume",
    (spec.volumes ?? []).map((v) => v.name),
  );
  dup(
    "container",
    [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name),
  );
  const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    if (!c.name?.startsWith("istio-")) continue;
    for (const m of c.volumeMounts ?? [])
      if (!volumes.has(m.name)) problems.push(`${c.name} mounts missing volume ${m.name}`);
  }
  return problems;
}

function fuzzCase(): { body: string; contentType: string } {
  const r = rand();
  if (r < 0.03)
    return {
      body: pick(["", "{", "null", "[]", '"x"', "1e999", "{}".repeat(3)]),
      contentType: "application/json",
    };
  if (r < 0.05)
    return {
      body: "{}",
      contentType: pick(["text/plain", "application/x-www-form-urlencoded", "application/yaml"]),
    };
  const pod = typicalPod();
  const annotations = pod.metadata!.annotations!;
  for (let i = int(4); i > 0; i--) annotations[pick(ANNOTATIONS)] = String(randomScalar());
  if (rand() < 0.3) pod.metadata!.labels!["sidecar.istio.io/inject"] = pick(["true", "false", "maybe", ""]);
  knownTroubles(pod);
  const review = makeReview(pod, {
    version: pick(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const),
    uid: `fuzz-${int(1e9)}`,
    operation: pick(["CREATE", "CREATE", "CREATE", "UPDATE", "DELETE", "CONNECT", "bogus"]),
  });
  let value: unknown = review;
  if (rand() < 0.75) {
    // Mostly damage the pod, so the engine sees hostile input rather than the envelope check.
    let object: unknown = review.request.object;
    for (let i = int(4); i > 0; i--) object = mutate(object);
    (review.request as { object: unknown }).object = object;
  } else {
    for (let i = 1 + int(3); i > 0; i--) value = mutate(value);
  }
  let body = JSON.stringify(value) ?? "null";
  if (rand() < 0.05) body = body.slice(0, int(body.length));
  return { body, contentType: "application/json" };
}

function checkAnswer(status: number, text: string, sent: string): void {
  assert.ok(
    status === 200 || (status >= 400 && status < 500),
    `HTTP ${status} for ${sent.slice(0, 300)}\n${text.slice(0, 300)}`,
  );
  const body = JSON.parse(text);
  if (status !== 200) {
    assert.equal(typeof body.message, "string");
    return;
  }
  assert.equal(body.kind, "AdmissionReview");
  assert.ok(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"].includes(body.apiVersion));
  const sentReview = JSON.parse(sent);
  assert.equal(body.apiVersion, sentReview.apiVersion);
  assert.equal(body.response.uid, sentReview.request.uid);
  assert.equal(typeof body.response.allowed, "boolean");
  if (body.response.patch !== undefined) {
    assert.equal(body.response.patchType, "JSONPatch");
    const patch = JSON.parse(Buffer.from(body.response.patch, "base64").toString());
    assert.ok(Array.isArray(patch));
    const pod = structuredClone(sentReview.request.object);
    assert.deepEqual(
      applyPatch(pod, patch).filter((e) => e !== null),
      [],
      "the patch applies to the pod it was made for",
    );
    assert.deepEqual(patchedPodProblems(pod), [], `patched pod of ${sent.slice(0, 300)}`);
  }
  if (body.response.allowed === false) assert.equal(typeof body.response.status.message, "string");
}

describe(`webhook fuzzing (seed ${SEED})`, () => {
  const server = createInjectorServer({
    engine: defaultEngine,
    config: defaultInjectionConfig(),
    bodyLimit: 256 * 1024,
  });
  after(() => server.close());

  test(`${CASES} random and mutated reviews through fastify inject()`, async () => {
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < CASES && Date.now() < deadline; i++) {
      const c = fuzzCase();
      const res = await server.app.inject({
        method: "POST",
        url: "/inject",
        headers: { "content-type": c.contentType },
        payload: c.body,
      });
      checkAnswer(res.statusCode, res.body, c.body);
    }
    const metrics = await server.monitoring.inject({ url: "/metrics" });
    assert.doesNotMatch(metrics.body, /sidecar_injection_failure_total\{type="internal"/);
    // The corpus reaches every branch: injections, skips, rejections and refusals.
    for (const result of ["injected", "skipped", "rejected", "error"]) {
      assert.match(metrics.body, new RegExp(`sidecar_injection_result_total\\{result="${result}"`));
    }
    if (process.env.FUZZ_VERBOSE) console.log(metrics.body);
  });

  test(`${SOCKET_CASES} over TLS, interleaved with valid reviews that must succeed`, async () => {
    const ca = generateCa();
    const cert = generateServingCert({ ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    const tlsServer = createInjectorServer({
      engine: defaultEngine,
      config: defaultInjectionConfig(),
      tls: { key: cert.keyPem, cert: cert.certPem },
      bodyLimit: 256 * 1024,
    });
    const { port } = await tlsServer.listen({ port: 0, monitoringPort: 0, host: "127.0.0.1" });
    const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: ca.certPem });
    const send = (body: string, contentType: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/inject",
            method: "POST",
            agent,
            headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error("request hung for 10 s")));
        req.on("error", reject);
        req.end(body);
      });
    const valid = JSON.stringify(makeReview(typicalPod(), { uid: "valid" }));
    // Wait for every request of a batch before failing, so none outlives the server.
    const settle = async (ps: Promise<void>[]) => {
      const failed = (await Promise.allSettled(ps)).find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    };
    try {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < SOCKET_CASES; i++) {
        const c = fuzzCase();
        batch.push(send(c.body, c.contentType).then((r) => checkAnswer(r.status, r.text, c.body)));
        if (i % 10 === 0) {
          batch.push(
            send(valid, "application/json").then((r) => {
              assert.equal(r.status, 200);
              assert.equal(JSON.parse(r.text).response.allowed, true);
            }),
          );
        }
        if (batch.length >= 16) await settle(batch.splice(0));
      }
      await settle(batch);
    } finally {
      agent.destroy();
      await tlsServer.close();
    }
  });
});
