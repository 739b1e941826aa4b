// The pod-shape check and the injection engine must agree on every field the engine reads. A
// property test over the Pod schema: a pod filled with every field injection could look at (the
// fields of the Kubernetes types the engine touches, valid by kubernetes-models' OpenAPI schema)
// is retyped one field at a time, at every path, to each JSON type the schema forbids there. For
// each such pod either the shape check refuses it, naming exactly that field (the webhook's 400),
// or the engine runs without throwing and its output differs from the valid pod's only where the
// wrong value was copied through unchanged (so the engine did not interpret it). A field that
// fails both is one the engine reads but the shape check does not check.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Pod as PodModel } from "kubernetes-models/v1/Pod";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { defaultInjectionConfig } from "../config.ts";
import { injectPod } from "../inject.ts";
import { podShapeProblem } from "./pod-shape.ts";
import { typicalPod } from "./review-fixtures.test-support.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const probeHttp = (port: number | string) => ({
  path: "/healthz?x=1",
  port,
  host: "127.0.0.1",
  scheme: "HTTP",
  httpHeaders: [{ name: "X-Probe", value: "1" }],
});

/** A pod with every field the injection engine could read, in the shapes Kubernetes allows. */
function richPod(withOverride: boolean): Pod {
  const pod = typicalPod() as unknown as { metadata: Record<string, Json>; spec: Record<string, Json> };
  delete pod.metadata.managedFields; // the webhook strips it before the engine runs
  pod.metadata.annotations = {
    "sidecar.istio.io/proxyCPU": "150m",
    "sidecar.istio.io/proxyMemory": "192Mi",
    "sidecar.istio.io/userVolume": JSON.stringify({ extra: { configMap: { name: "extra" } } }),
    "sidecar.istio.io/userVolumeMount": JSON.stringify({
      extra: { mountPath: "/etc/extra", readOnly: true },
    }),
    "proxy.istio.io/config": JSON.stringify({ holdApplicationUntilProxyStarts: true }),
    "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8",
    "traffic.sidecar.istio.io/excludeInboundPorts": "9000",
    "readiness.status.sidecar.istio.io/periodSeconds": "5",
  };
  const app = (pod.spec.containers as Record<string, Json>[])[0] as Record<string, Json>;
  Object.assign(app, {
    command: ["/app"],
    args: ["--serve"],
    ports: [
      { name: "http", containerPort: 9080, protocol: "TCP" },
      { name: "admin", containerPort: 9090, hostPort: 19090, protocol: "TCP" },
    ],
    env: [
      { name: "PLAIN", value: "v" },
      { name: "FROM", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ],
    envFrom: [{ configMapRef: { name: "cm" } }],
    readinessProbe: {
      httpGet: probeHttp("http"),
      initialDelaySeconds: 3,
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
    },
    livenessProbe: { httpGet: { ...probeHttp(9090), scheme: "HTTPS" }, timeoutSeconds: 4 },
    startupProbe: { tcpSocket: { port: 9080 }, failureThreshold: 30 },
    lifecycle: {
      postStart: { exec: { command: ["/bin/true"] } },
      preStop: { httpGet: { path: "/stop", port: 9080 } },
    },
    securityContext: {
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
    },
  });
  const second = (pod.spec.containers as Record<string, Json>[])[1] as Record<string, Json>;
  second.readinessProbe = { grpc: { port: 24224, service: "health" } };
  second.livenessProbe = { exec: { command: ["/bin/check"] } };
  pod.spec.initContainers = [
    {
      name: "setup",
      image: "busybox",
      command: ["sh", "-c", "true"],
      restartPolicy: "Always",
      ports: [{ containerPort: 7000 }],
      volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    },
  ];
  if (withOverride) {
    // A user's istio-proxy container overrides fields of the injected one.
    (pod.spec.containers as Json[]).push({
      name: "istio-proxy",
      image: "auto",
      securityContext: { runAsUser: 1500 },
      env: [{ name: "EXTRA", value: "1" }],
      volumeMounts: [{ name: "tmp", mountPath: "/scratch" }],
      resources: { limits: { cpu: "1" } },
    });
  }
  pod.spec.imagePullSecrets = [{ name: "registry" }];
  pod.spec.hostNetwork = false;
  pod.spec.securityContext = { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 };
  return pod as unknown as Pod;
}

function schemaValid(pod: unknown): boolean {
  try {
    new PodModel(pod as never).validate();
    return true;
  } catch {
    return false;
  }
}

type Key = string | number;

/** Every path in a JSON value as keys, with its value. */
function paths(v: Json, at: Key[] = []): [Key[], Json][] {
  const out: [Key[], Json][] = at.length ? [[at, v]] : [];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...paths(x, [...at, i]));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  }
  return out;
}

/** A path written as the shape check writes it: `.spec.containers[0].name`. */
const pathText = (keys: Key[]) => keys.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");

function setAt(root: Json, keys: Key[], value: Json): Json {
  const copy = structuredClone(root);
  let node = copy as Record<Key, Json>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<Key, Json>;
  node[keys.at(-1) as Key] = value;
  return copy;
}

/** Values of the JSON types the schema does not allow where `v` is. */
function wrongTypes(v: Json): Json[] {
  if (typeof v === "string") return [7, { x: "y" }];
  if (typeof v === "number") return ["seven", [1]];
  if (typeof v === "boolean") return ["yes", 1];
  if (Array.isArray(v)) return ["x", { x: "y" }];
  if (v && typeof v === "object") return ["x", [1]];
  return [];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function getAt(root: unknown, keys: Key[]): unknown {
  let node = root as Record<Key, unknown> | undefined;
  for (const k of keys) node = node?.[k] as Record<Key, unknown> | undefined;
  return node;
}

/** True when `b` differs from `a` only where `wrong` stands in for `right`, copied unchanged. */
function onlyCopied(a: unknown, b: unknown, right: Json, wrong: Json): boolean {
  if (same(a, b)) return true;
  if (same(b, wrong) && same(a, right)) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => onlyCopied(x, b[i], right, wrong));
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return (
      same(ka, Object.keys(b)) &&
      ka.every((k) =>
        onlyCopied((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], right, wrong),
      )
    );
  }
  return false;
}

const RESTORE = "sidecar.remora.io/restore";

/**
 * Whether the engine's output for the mutated pod is its output for the valid pod with the wrong
 * value passed through: at the same place in the pod, or inside the restore record (a copy of the
 * pod as it was, for uninject). A wrong value anywhere else (the bootstrap, arguments, metadata
 * the engine derives) means the engine interpreted it.
 */
function passedThrough(valid: Pod, mutated: Pod, keys: Key[], right: Json, wrong: Json): boolean {
  const expected = same(getAt(valid, keys), right)
    ? (setAt(valid as unknown as Json, keys, wrong) as unknown as Pod)
    : valid;
  const restoreOf = (p: Pod) => {
    const text = p.metadata?.annotations?.[RESTORE];
    return text === undefined ? undefined : JSON.parse(text);
  };
  const strip = (p: Pod) => ({
    ...p,
    metadata: { ...p.metadata, annotations: { ...p.metadata?.annotations, [RESTORE]: "" } },
  });
  return (
    same(strip(expected), strip(mutated)) && onlyCopied(restoreOf(valid), restoreOf(mutated), right, wrong)
  );
}

const ctx = { namespace: "bookinfo", config: defaultInjectionConfig() };

for (const withOverride of [false, true]) {
  test(`shape check and engine agree on every field${withOverride ? " (with a user istio-proxy override)" : ""}`, () => {
    const pod = richPod(withOverride);
    assert.ok(schemaValid(pod), "the rich pod is a valid Kubernetes Pod");
    assert.equal(podShapeProblem(pod), undefined);
    const baseline = injectPod(pod, ctx);
    assert.equal(baseline.kind, "injected");
    const disagreements: string[] = [];
    let refused = 0;
    let copied = 0;
    for (const [keys, right] of paths(pod as unknown as Json)) {
      const path = pathText(keys);
      for (const wrong of wrongTypes(right)) {
        const mutated = setAt(pod as unknown as Json, keys, wrong) as unknown as Pod;
        if (schemaValid(mutated)) continue; // still a pod the API server could send
        const problem = podShapeProblem(mutated);
        if (problem !== undefined) {
          assert.ok(
            problem.startsWith(`request.object${path} `),
            `a wrong ${path} must be refused naming that field, got: ${problem}`,
          );
          refused++;
          continue;
        }
        let out: ReturnType<typeof injectPod>;
        try {
          out = injectPod(mutated, ctx);
        } catch (err) {
          disagreements.push(
            `${path} = ${JSON.stringify(wrong)}: the engine throws (${(err as Error).message})`,
          );
          continue;
        }
        if (
          out.kind === "injected" &&
          baseline.kind === "injected" &&
          passedThrough(baseline.pod, out.pod, keys, right, wrong)
        )
          copied++;
        else disagreements.push(`${path} = ${JSON.stringify(wrong)}: the engine's output depends on it`);
      }
    }
    assert.deepEqual(disagreements, [], "fields the engine reads but the pod-shape check lets through");
    assert.ok(refused > 50 && copied > 50, `refused ${refused}, passed through unchanged ${copied}`);
  });
}
