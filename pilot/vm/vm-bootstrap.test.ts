import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { FakeApiServer, kubeConfigFor, kubeconfigYaml } from "../../test/fake-apiserver/index.ts";
import { assertGolden, goldenCases } from "../../test/helpers/golden.ts";
import { runCli } from "../cli/remora.ts";
import { decodeToJson, encodeJson } from "../index.ts";
import { systemdArg } from "./systemd.ts";
import { type VmBootstrapOptions, vmBootstrap } from "./vm-bootstrap.ts";

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const CASES = join(import.meta.dirname, "testdata");
const ROOT = "-----BEGIN CERTIFICATE-----\nMIIB-test-root\n-----END CERTIFICATE-----\n";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "remora-vm-bootstrap-"));
  writeFileSync(join(dir, "root.pem"), ROOT);
  writeFileSync(join(dir, "token"), "header.payload.signature\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));

function options(over: Partial<VmBootstrapOptions>): VmBootstrapOptions {
  return {
    outputDir: join(dir, "out"),
    ip: "10.0.0.7",
    clusterId: "Kubernetes",
    revision: "default",
    controlPlaneNamespace: "remora-system",
    ingressService: "istio-eastwestgateway",
    tokenDurationSeconds: 3600,
    autoRegister: true,
    captureDns: true,
    rootCertFile: join(dir, "root.pem"),
    tokenFile: join(dir, "token"),
    binaries: { envoy: "/usr/local/bin/envoy", remora: "/usr/local/bin/remora" },
    ...over,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: walking decoded proto3 JSON in a test
type Json = any;

describe("remora vm bootstrap output (golden, one folder per case)", () => {
  for (const name of goldenCases(CASES)) {
    test(name, async () => {
      const caseDir = join(CASES, name);
      const args = JSON.parse(
        readFileSync(join(caseDir, "options.json"), "utf8"),
      ) as Partial<VmBootstrapOptions>;
      if (args.meshConfigFile) args.meshConfigFile = join(caseDir, args.meshConfigFile);
      const out = join(dir, name);
      const r = await vmBootstrap(
        options({ ...args, file: join(caseDir, "workloadgroup.yaml"), outputDir: out }),
        undefined,
      );
      for (const f of r.files) {
        assertGolden(join(caseDir, "expected", f.name), readFileSync(join(out, f.name), "utf8"));
        assert.equal(statSync(join(out, f.name)).mode & 0o777, f.mode, f.name);
      }
      assert.equal(statSync(join(out, "istio-token")).mode & 0o777, 0o600, "the token is private");
      // The bootstrap encodes strictly as Envoy's Bootstrap, and dials pilot's TLS port with the
      // VM's identity files.
      const json = JSON.parse(readFileSync(join(out, "envoy-bootstrap.json"), "utf8"));
      const decoded = decodeToJson(BOOTSTRAP, encodeJson(BOOTSTRAP, json)) as Json;
      assert.equal(decoded.node.id, r.nodeId);
      const grpcService = decoded.dynamicResources.adsConfig.grpcServices[0].googleGrpc;
      assert.equal(
        grpcService.channelCredentials.sslCredentials.rootCerts.filename,
        "/etc/certs/root-cert.pem",
      );
      assert.equal(
        grpcService.callCredentials[0].stsService.subjectTokenPath,
        "/var/run/secrets/tokens/istio-token",
      );
      assert.equal(grpcService.callCredentials[0].stsService.audience, "istio-ca");
      assert.match(grpcService.targetUri, /:15012$/);
      // A group with a probe: HDS on exactly ADS's channel and credentials.
      const probe = (json.hds_config !== undefined) as boolean;
      assert.equal(probe, /\n {2}probe:/.test(readFileSync(join(caseDir, "workloadgroup.yaml"), "utf8")));
      if (probe) {
        const hds = decoded.hdsConfig.grpcServices[0];
        const ads = decoded.dynamicResources.adsConfig.grpcServices[0];
        assert.deepEqual(
          { ...hds, googleGrpc: { ...hds.googleGrpc, statPrefix: "" } },
          { ...ads, googleGrpc: { ...ads.googleGrpc, statPrefix: "" } },
        );
      }
    });
  }
});

test("an exec probe cannot be run by Envoy: no hds_config, and a warning saying so", async () => {
  const file = join(dir, "exec.yaml");
  writeFileSync(
    file,
    "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: wg, namespace: shop}\nspec:\n  template: {serviceAccount: sa}\n  probe: {exec: {command: [cat, /ready]}}\n",
  );
  const r = await vmBootstrap(options({ file, outputDir: join(dir, "exec-out") }), undefined);
  const json = JSON.parse(readFileSync(join(dir, "exec-out", "envoy-bootstrap.json"), "utf8"));
  assert.equal(json.hds_config, undefined);
  assert.ok(
    r.warnings.some((w) => /spec\.probe\.exec cannot be run/.test(w) && /stays unhealthy/.test(w)),
    r.warnings.join("\n"),
  );
});

test("systemd arguments: plain ones bare, others quoted; % and $ never expand", () => {
  assert.equal(systemdArg("/usr/local/bin/envoy"), "/usr/local/bin/envoy");
  assert.equal(systemdArg("*"), "*");
  assert.equal(systemdArg(""), '""');
  assert.equal(systemdArg("a b"), '"a b"');
  assert.equal(systemdArg('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.equal(systemdArg("50%"), "50%%");
  assert.equal(systemdArg("$HOME;rm -rf /"), '"$$HOME;rm -rf /"');
});

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const sink = { write: (s: string) => (out += s) };
  const code = await runCli(["node", "remora", "vm", "bootstrap", ...args], { out: sink, err: sink });
  return { code, out };
}

describe("remora vm bootstrap command line", () => {
  test("usage errors exit 2 with the flag named", async () => {
    const r1 = await cli("-o", join(dir, "x"), "--workload-group", "shop/wg");
    assert.equal(r1.code, 2);
    assert.match(r1.out, /--internal-ip is required/);
    const r2 = await cli("-o", join(dir, "x"), "--workload-group", "wg", "--internal-ip", "10.0.0.7");
    assert.equal(r2.code, 2);
    assert.match(r2.out, /must be NAMESPACE\/NAME/);
    const r3 = await cli("-o", join(dir, "x"), "--workload-group", "shop/wg", "--internal-ip", "not-an-ip");
    assert.equal(r3.code, 2);
    const r4 = await cli("-o", join(dir, "x"), "--internal-ip", "10.0.0.7");
    assert.equal(r4.code, 2);
    assert.match(r4.out, /name the WorkloadGroup/);
  });

  test("an invalid WorkloadGroup file is refused with istiod's rule", async () => {
    writeFileSync(
      join(dir, "bad.yaml"),
      "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: wg, namespace: shop}\nspec: {metadata: {labels: {app: x}}}\n",
    );
    const r = await cli(
      "-o",
      join(dir, "bad-out"),
      "-f",
      join(dir, "bad.yaml"),
      "--internal-ip",
      "10.0.0.7",
      "--root-cert",
      join(dir, "root.pem"),
      "--token-file",
      join(dir, "token"),
    );
    assert.equal(r.code, 1);
    assert.match(r.out, /WorkloadGroup shop\/wg .* is invalid: .*template/);
  });
});

describe("remora vm bootstrap against a cluster", () => {
  let api: FakeApiServer;
  let kubeconfig: string;
  before(async () => {
    api = await FakeApiServer.start({ namespaces: ["default", "shop", "remora-system"] });
    const kc = kubeConfigFor(api);
    kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(api));
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "shop",
      plural: "workloadgroups",
      body: {
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadGroup",
        metadata: { name: "wg", namespace: "shop" },
        spec: { template: { serviceAccount: "ratings" } },
      },
    });
  });
  after(async () => api?.stop());

  const run = (...extra: string[]) =>
    cli("-o", join(dir, "cluster-out"), "--kubeconfig", kubeconfig, "--internal-ip", "10.0.0.7", ...extra);

  test("each missing piece is named with how to fix it", async () => {
    let r = await run("--workload-group", "nowhere/wg");
    assert.equal(r.code, 1);
    assert.match(r.out, /namespace nowhere does not exist/);
    r = await run("--workload-group", "shop/missing");
    assert.match(r.out, /WorkloadGroup missing not found in namespace shop/);
    r = await run("--name", "wg", "-n", "shop");
    assert.match(r.out, /ConfigMap istio-ca-root-cert with root-cert.pem not found in namespace shop/);
    r = await run("--workload-group", "shop/wg", "--root-cert", join(dir, "root.pem"));
    assert.match(
      r.out,
      /ServiceAccount shop\/ratings .* does not exist; create it: kubectl create serviceaccount ratings -n shop/,
    );
  });

  test("the token comes from a TokenRequest (audience istio-ca) that the cluster's TokenReview accepts", async () => {
    const kc = kubeConfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name: "ratings" } } });
    await core.createNamespacedConfigMap({
      namespace: "shop",
      body: { metadata: { name: "istio-ca-root-cert" }, data: { "root-cert.pem": ROOT } },
    });
    const r = await run("--workload-group", "shop/wg", "--token-duration", "7200");
    assert.equal(r.code, 0, r.out);
    assert.equal(readFileSync(join(dir, "cluster-out", "root-cert.pem"), "utf8"), ROOT);
    const token = readFileSync(join(dir, "cluster-out", "istio-token"), "utf8");
    const review = api.tokens.review(token, ["istio-ca"]) as {
      authenticated?: boolean;
      user?: { username?: string };
    };
    assert.equal(review.authenticated, true, JSON.stringify(review));
    assert.equal(review.user?.username, "system:serviceaccount:shop:ratings");
  });
});
