// Golden tests for kube-inject: one folder per case under testdata/kube-inject/<case>/ with
// input.yaml, optional options.yaml ({injectConfig, meshConfig, revision, namespace}), and the
// expected injected.yaml (absent for error cases) and report.txt. For every case that injects,
// the output is also checked for: idempotency (byte for byte), lossless kube-uninject, every pod
// valid under the Kubernetes schema, and every bootstrap encoding strictly as Envoy's Bootstrap.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Pod } from "kubernetes-models/v1/Pod";
import type { Pod as PodType } from "kubernetes-types/core/v1.d.ts";
import { encodeJson } from "../pilot/index.ts";
import { assertGolden, goldenCases } from "../test/helpers/golden.ts";
import { defaultInjectionConfig, type InjectionConfig, loadInjectionConfig } from "./config.ts";
import { injectPod } from "./inject.ts";
import { formatReport, type KubeInjectOptions, kubeInject, kubeUninject } from "./kube-inject.ts";
import { parseKubeYaml, stringifyKubeYaml } from "./kube-yaml.ts";
import { uninjectPod } from "./uninject.ts";
import { isListKind, TEMPLATE_PATHS } from "./workloads.ts";

const DIR = join(import.meta.dirname, "testdata", "kube-inject");

function options(caseDir: string): KubeInjectOptions {
  const file = join(caseDir, "options.yaml");
  let config: InjectionConfig = defaultInjectionConfig();
  const opts: Partial<KubeInjectOptions> = {};
  if (existsSync(file)) {
    const o = parseKubeYaml(readFileSync(file, "utf8"))[0]?.value as Record<string, unknown>;
    if (o.injectConfig) {
      const loaded = loadInjectionConfig(stringifyKubeYaml(o.injectConfig));
      assert.deepEqual(loaded.errors, []);
      config = loaded.config;
    }
    if (o.meshConfig) opts.meshConfig = o.meshConfig as KubeInjectOptions["meshConfig"];
    if (typeof o.revision === "string") opts.revision = o.revision;
    if (typeof o.namespace === "string") opts.namespace = o.namespace;
  }
  return { ...opts, config };
}

/** Every pod template in a parsed stream, with its namespace. */
export function podTemplates(values: unknown[]): { pod: PodType; namespace: string }[] {
  const out: { pod: PodType; namespace: string }[] = [];
  const visit = (v: unknown) => {
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (isListKind(o.kind) && Array.isArray(o.items)) return o.items.forEach(visit);
    const path = TEMPLATE_PATHS[o.kind as string];
    if (!path) return;
    let t: unknown = o;
    for (const k of path) t = (t as Record<string, unknown>)?.[k];
    const ns = ((o.metadata as Record<string, unknown>)?.namespace as string) ?? "default";
    if (t) out.push({ pod: t as PodType, namespace: ns });
  };
  values.forEach(visit);
  return out;
}

function values(text: string): unknown[] {
  return parseKubeYaml(text).map((d) => d.value);
}

function checkPod(pod: PodType, label: string): void {
  // The Kubernetes schema (kubernetes-models validates against the OpenAPI definitions).
  new Pod({
    apiVersion: "v1",
    kind: "Pod",
    metadata: pod.metadata ?? {},
    spec: pod.spec,
  } as never).validate();
  const proxy = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
    (c) => c.name === "istio-proxy",
  );
  const args = proxy?.args ?? [];
  const at = args.indexOf("--config-yaml");
  if (at < 0) return;
  const bootstrap = JSON.parse((args[at + 1] as string).replaceAll("$$", "$"));
  assert.doesNotThrow(() => encodeJson("envoy.config.bootstrap.v3.Bootstrap", bootstrap), label);
}

for (const name of goldenCases(DIR)) {
  test(`kube-inject golden: ${name}`, () => {
    const dir = join(DIR, name);
    const input = readFileSync(join(dir, "input.yaml"), "utf8");
    const opts = options(dir);
    const result = kubeInject(input, opts);
    assertGolden(join(dir, "report.txt"), formatReport(result));
    if (result.exitCode !== 0) {
      assert.equal(result.output, "");
      assert.equal(existsSync(join(dir, "injected.yaml")), false, "error cases have no injected.yaml");
      return;
    }
    assertGolden(join(dir, "injected.yaml"), result.output);
    // The text-splicing writer and the YAML node writer agree.
    const viaNodes = kubeInject(input, { ...opts, writer: "nodes" });
    assert.deepEqual(values(viaNodes.output), values(result.output), "the two writers disagree");

    // Idempotent: injecting the output again changes nothing, byte for byte.
    const again = kubeInject(result.output, opts);
    assert.equal(again.exitCode, 0);
    assert.equal(again.output, result.output, "kube-inject is not idempotent");

    // Lossless: uninject gives back the input (semantically; comments and layout are kept too).
    // For inputs that were already injected, that is the input without its old sidecar.
    const back = kubeUninject(result.output);
    assert.equal(back.exitCode, 0);
    const original = values(kubeUninject(input).output);
    assert.deepEqual(values(back.output), original, "kube-uninject did not restore the input");

    // The engine on pods (the webhook's path): same properties, and every pod is valid.
    const config = opts.config;
    for (const [i, { pod, namespace }] of podTemplates(values(input)).entries()) {
      const ctx = { namespace, config, ...(opts.meshConfig ? { meshConfig: opts.meshConfig } : {}) };
      const first = injectPod(pod, opts.revision ? { ...ctx, revision: opts.revision } : ctx);
      if (first.kind !== "injected") continue;
      checkPod(first.pod, `${name} pod ${i}`);
      const second = injectPod(first.pod, opts.revision ? { ...ctx, revision: opts.revision } : ctx);
      assert.equal(second.kind, "injected");
      assert.deepEqual(
        (second as { pod: PodType }).pod,
        first.pod,
        `${name} pod ${i}: inject(inject(x)) ≠ inject(x)`,
      );
      assert.deepEqual(uninjectPod(first.pod), uninjectPod(pod), `${name} pod ${i}: uninject(inject(x)) ≠ x`);
    }
    for (const { pod } of podTemplates(values(result.output))) {
      if (pod.metadata?.annotations?.["sidecar.istio.io/status"]) checkPod(pod, name);
    }
  });
}
