// `remora manifest generate`: golden output per option set (args.json → expected.yaml), stable
// bytes, structural CRD schemas that accept real Istio objects, the webhook selector rules, and
// the generated schema module being up to date with the Istio types.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runRemora } from "../../test/helpers/cli.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import { parseKubeYaml } from "../kube-yaml.ts";
import type { JsonSchema } from "./crd-schema-types.ts";
import { defaultManifestOptions, generateManifests } from "./generate.ts";
import { generateManifestYaml, manifestOptionsFrom } from "./render.ts";
import { GENERATED_FILE, generateSpecSchemas, renderSchemaModule } from "./schema-gen.ts";

const dir = join(import.meta.dirname, "..", "testdata", "manifest");

/** commander-style argv → the option object the command would get. */
function parseArgs(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = (args[i] as string)
      .replace(/^--/, "")
      .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const next = args[i + 1];
    if (next === undefined || next.startsWith("--")) out[flag] = true;
    else {
      out[flag] = next;
      i++;
    }
  }
  return out;
}

describe("manifest generate golden output", () => {
  for (const name of goldenCases(dir)) {
    test(name, () => {
      const args = JSON.parse(readFileSync(join(dir, name, "args.json"), "utf8")) as string[];
      const { options, problems } = manifestOptionsFrom(parseArgs(args), (p) => readFileSync(p, "utf8"));
      assert.deepEqual(problems, []);
      const yaml = generateManifestYaml(options!);
      assert.equal(generateManifestYaml(options!), yaml, "output must be deterministic");
      for (const doc of parseKubeYaml(yaml)) assert.deepEqual(doc.errors, []);
      assertGolden(join(dir, name, "expected.yaml"), yaml);
    });
  }

  test("the CLI prints the same bytes", async () => {
    const args = JSON.parse(readFileSync(join(dir, "canary-cni", "args.json"), "utf8")) as string[];
    const r = await runRemora(["manifest", "generate", ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(dir, "canary-cni", "expected.yaml"), "utf8"));
    const bad = await runRemora(["manifest", "generate", "--failure-policy", "Sometimes"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--failure-policy must be Fail or Ignore/);
  });

  test("multi-cluster flags are checked against what they apply to", () => {
    const problems = (o: Record<string, unknown>) => manifestOptionsFrom(o, () => "").problems.join("; ");
    assert.equal(problems({ clusterId: "cluster1", network: "net1", externalIstiod: true }), "");
    assert.match(problems({ clusterId: "bad id" }), /--cluster-id "bad id" is not a valid label value/);
    assert.match(
      problems({ remote: true, externalIstiod: true }),
      /--external-istiod applies to the control plane/,
    );
    assert.equal(problems({ gateway: "ingress", clusterId: "c1" }), "");
    assert.match(problems({ gateway: "ingress", clusterId: "c 1" }), /not a valid label value/);
    assert.match(problems({ primaryAddress: "192.0.2.1" }), /--primary-address only applies with --remote/);
  });
});

function structuralProblems(s: JsonSchema, path: string, out: string[]): void {
  for (const banned of ["$ref", "oneOf", "anyOf", "allOf", "not"]) {
    if (banned in s) out.push(`${path}: uses ${banned}`);
  }
  if (!s.type && !s["x-kubernetes-int-or-string"] && !s["x-kubernetes-preserve-unknown-fields"]) {
    out.push(`${path}: no type`);
  }
  if (s.type === "array" && !s.items) out.push(`${path}: array without items`);
  if (s.properties && s.additionalProperties) out.push(`${path}: both properties and additionalProperties`);
  for (const [k, v] of Object.entries(s.properties ?? {})) structuralProblems(v, `${path}.${k}`, out);
  if (s.items) structuralProblems(s.items, `${path}[]`, out);
  if (s.additionalProperties) structuralProblems(s.additionalProperties, `${path}{}`, out);
}

/** A small validator for the schema subset in use: enough to check real objects pass. */
function validate(s: JsonSchema, v: unknown, path: string, out: string[]): void {
  if (s["x-kubernetes-preserve-unknown-fields"] && !s.type) return;
  if (s["x-kubernetes-int-or-string"]) {
    if (typeof v !== "string" && !Number.isInteger(v)) out.push(`${path}: want int or string`);
    return;
  }
  const actual = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
  if (s.type !== actual) {
    out.push(`${path}: want ${s.type}, got ${actual}`);
    return;
  }
  if (s.enum && !s.enum.includes(v)) out.push(`${path}: ${JSON.stringify(v)} not in enum`);
  if (s.type === "array")
    for (const [i, x] of (v as unknown[]).entries()) validate(s.items!, x, `${path}[${i}]`, out);
  if (s.type === "object") {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in o)) out.push(`${path}.${r}: required`);
    for (const [k, x] of Object.entries(o)) {
      const sub = s.properties?.[k] ?? s.additionalProperties;
      if (sub) validate(sub, x, `${path}.${k}`, out);
      else if (!s["x-kubernetes-preserve-unknown-fields"]) out.push(`${path}.${k}: unknown field`);
    }
  }
}

describe("CRDs", () => {
  const crds = generateManifests(defaultManifestOptions()).filter(
    (o) => o.kind === "CustomResourceDefinition",
  );
  const schemaOf = (kind: string, version = "v1") => {
    const crd = crds.find((c) => (c.spec as { names: { kind: string } }).names.kind === kind) as {
      spec: { versions: { name: string; storage: boolean; schema: { openAPIV3Schema: JsonSchema } }[] };
    };
    return crd.spec.versions.find((v) => v.name === version)!.schema.openAPIV3Schema;
  };

  test("seven networking kinds (three versions), three security kinds (two) and Telemetry (two), one storage version each, structural schemas", () => {
    assert.equal(crds.length, 11);
    for (const crd of crds) {
      const spec = crd.spec as {
        group: string;
        versions: { name: string; storage: boolean; schema: { openAPIV3Schema: JsonSchema } }[];
      };
      const versions = spec.versions;
      assert.deepEqual(
        versions.map((v) => v.name),
        spec.group === "security.istio.io"
          ? ["v1", "v1beta1"]
          : spec.group === "telemetry.istio.io"
            ? ["v1", "v1alpha1"]
            : ["v1", "v1beta1", "v1alpha3"],
      );
      assert.equal(versions.filter((v) => v.storage).length, 1);
      for (const v of versions) {
        const problems: string[] = [];
        structuralProblems(
          v.schema.openAPIV3Schema,
          `${(crd.metadata as { name: string }).name}/${v.name}`,
          problems,
        );
        assert.deepEqual(problems, []);
      }
    }
  });

  const samples: [string, unknown][] = [
    [
      "VirtualService",
      {
        hosts: ["reviews"],
        http: [
          {
            match: [{ headers: { end_user: { exact: "jason" } }, uri: { prefix: "/api" } }],
            route: [{ destination: { host: "reviews", subset: "v2", port: { number: 9080 } }, weight: 100 }],
            retries: { attempts: 3, perTryTimeout: "2s" },
            fault: { delay: { percentage: { value: 0.5 }, fixedDelay: "7s" } },
            timeout: "10s",
          },
        ],
      },
    ],
    [
      "DestinationRule",
      {
        host: "reviews",
        trafficPolicy: {
          loadBalancer: { simple: "ROUND_ROBIN" },
          connectionPool: { tcp: { maxConnections: 100 } },
          tls: { mode: "ISTIO_MUTUAL" },
        },
        subsets: [
          { name: "v1", labels: { version: "v1" } },
          {
            name: "v2",
            labels: { version: "v2" },
            trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } },
          },
        ],
      },
    ],
    [
      "ServiceEntry",
      {
        hosts: ["api.example.com"],
        ports: [{ number: 443, name: "https", protocol: "TLS" }],
        location: "MESH_EXTERNAL",
        resolution: "DNS",
      },
    ],
    [
      "Gateway",
      {
        selector: { istio: "ingressgateway" },
        servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }],
      },
    ],
    [
      "Sidecar",
      { egress: [{ hosts: ["./*", "istio-system/*"] }], outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } },
    ],
    ["WorkloadEntry", { address: "10.0.0.5", labels: { app: "vm" }, ports: { http: 8080 } }],
  ];
  for (const [kind, spec] of samples) {
    test(`a typical ${kind} is accepted; a wrong type is not`, () => {
      for (const version of ["v1", "v1beta1", "v1alpha3"]) {
        const problems: string[] = [];
        validate(schemaOf(kind, version), { spec }, kind, problems);
        assert.deepEqual(problems, []);
      }
      const problems: string[] = [];
      validate(schemaOf(kind), { spec: { ...(spec as object), unknownField: 1 } }, kind, problems);
      assert.ok(problems.length > 0);
    });
  }

  test("the generated schema module is up to date with the Istio types", () => {
    assert.equal(
      readFileSync(GENERATED_FILE, "utf8"),
      renderSchemaModule(generateSpecSchemas()),
      "run `tsx injector/manifest/schema-gen.ts` and commit the result",
    );
  });
});

describe("webhook configuration", () => {
  const webhooksOf = (revision: string) => {
    const mwc = generateManifests({ ...defaultManifestOptions(), revision }).find(
      (o) => o.kind === "MutatingWebhookConfiguration",
    ) as { webhooks: Record<string, unknown>[] };
    return mwc.webhooks;
  };

  test("the default revision has four webhooks, a named one two; every field is explicit", () => {
    assert.deepEqual(
      webhooksOf("default").map((w) => w.name),
      [
        "rev.namespace.sidecar-injector.istio.io",
        "rev.object.sidecar-injector.istio.io",
        "namespace.sidecar-injector.istio.io",
        "object.sidecar-injector.istio.io",
      ],
    );
    assert.equal(webhooksOf("canary").length, 2);
    for (const w of webhooksOf("default")) {
      assert.equal(w.sideEffects, "None");
      assert.equal(w.failurePolicy, "Fail");
      assert.equal(w.reinvocationPolicy, "Never");
      assert.equal(w.timeoutSeconds, 10);
      // inject=false on the pod excludes it from every webhook
      assert.ok(
        JSON.stringify(w.objectSelector).includes(
          '"key":"sidecar.istio.io/inject","operator":"NotIn","values":["false"]',
        ) ||
          JSON.stringify(w.objectSelector).includes(
            '"key":"sidecar.istio.io/inject","operator":"In","values":["true"]',
          ),
      );
    }
  });
});
