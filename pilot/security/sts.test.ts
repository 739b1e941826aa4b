// The token exchange (RFC 8693) on the TLS port, next to the gRPC CSR API: requests shaped as
// gRPC C-core's STS call credentials send them (form fields not percent-encoded, the token file's
// content as is) get the reviewed token back with the fields C-core requires (access_token,
// token_type, numeric expires_in); wrong grant types, token types, audiences, delegation, bad or
// expired tokens, big bodies, other paths and methods are refused with OAuth errors and counted.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { FakeApiServer, kubeConfigFor } from "../../test/fake-apiserver/index.ts";
import { GRPC_CORE } from "../../test/helpers/grpc-core-peer.ts";
import { requireOrSkip, SYSTEM_PYTHON } from "../../test/helpers/privileged.ts";
import { MeshCa, selfSignedBundle, workloadCsr } from "./ca.ts";
import { CSR_METHOD_PATH, csrServiceDefinition, requestCertificate } from "./csr-api.ts";
import { createCaMetrics, csrHandler } from "./csr-server.ts";
import { SecureGrpcServer } from "./secure-server.ts";
import { spiffeId } from "./spiffe.ts";
import { createStsMetrics, JWT_TOKEN_TYPE, STS_GRANT_TYPE, stsHandler } from "./sts.ts";
import { TokenReviewAuthenticator } from "./token-review.ts";

let api: FakeApiServer;
let secure: SecureGrpcServer;
let ca: MeshCa;
const registry = new Registry();
const quiet = { info() {}, warn() {} };
const NAME = "remora-pilot.remora-system.svc";

before(async () => {
  api = await FakeApiServer.start({ namespaces: ["default", "shop"] });
  const kc = kubeConfigFor(api);
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace: "shop", body: { metadata: { name: "cart" } } });
  ca = new MeshCa(selfSignedBundle({ organization: "cluster.local" }), { trustDomain: "cluster.local" });
  const authenticator = new TokenReviewAuthenticator(kc, ["istio-ca"]);
  secure = new SecureGrpcServer({
    host: "127.0.0.1",
    port: 0,
    ca,
    dnsNames: [NAME],
    http: stsHandler({ authenticator, metrics: createStsMetrics(registry), log: quiet }),
  });
  secure.addService(csrServiceDefinition, {
    CreateCertificate: csrHandler({
      ca: () => ca,
      authenticator,
      metrics: createCaMetrics(registry),
      log: quiet,
    }),
  });
  await secure.listen();
});
after(async () => {
  await secure.close(0);
  await api.stop();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

function post(body: string, o: { path?: string; method?: string; type?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: secure.port,
        servername: NAME,
        ca: ca.rootCertPem,
        path: o.path ?? "/token",
        method: o.method ?? "POST",
        headers: { "content-type": o.type ?? "application/x-www-form-urlencoded" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, unknown>,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The body gRPC C-core's STS credentials build: fields joined as they are, no percent-encoding. */
function coreBody(token: string, extra = ""): string {
  return `grant_type=${STS_GRANT_TYPE}&subject_token=${token}&subject_token_type=${JWT_TOKEN_TYPE}${extra}`;
}

async function exchanges(result: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === "remora_sts_token_exchanges_total");
  return Number(m?.values.find((v) => v.labels.result === result)?.value ?? 0);
}

describe("token exchange on the TLS port", () => {
  test("a valid token file is exchanged for itself, with the fields gRPC requires", async () => {
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    // A token file may end with a newline; C-core sends the file as it is.
    const r = await post(coreBody(`${token}\n`, "&audience=istio-ca"));
    assert.equal(r.status, 200);
    assert.equal(r.json.access_token, token);
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.issued_token_type, JWT_TOKEN_TYPE);
    assert.equal(typeof r.json.expires_in, "number");
    assert.ok((r.json.expires_in as number) > 0 && (r.json.expires_in as number) <= 3600);
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(await exchanges("ok"), 1);
  });

  test("the exchanged token authenticates a gRPC call on the same port", async () => {
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const r = await post(coreBody(token));
    const chain = await requestCertificate(
      {
        address: `127.0.0.1:${secure.port}`,
        rootCertPem: ca.rootCertPem,
        token: String(r.json.access_token),
        serverName: NAME,
      },
      { csr: workloadCsr(spiffeId("cluster.local", "shop", "cart"), "EC_P256").csrPem, validity_duration: 0 },
    );
    assert.equal(chain.length, 2);
  });

  test("gRPC C-core (Envoy's google_grpc) negotiates HTTP/2 on the shared port and is authenticated", async (t) => {
    if (!requireOrSkip(t, GRPC_CORE)) return;
    const token = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const request = csrServiceDefinition.CreateCertificate?.requestSerialize({
      csr: workloadCsr(spiffeId("cluster.local", "shop", "cart"), "EC_P256").csrPem,
      validity_duration: 0,
    }) as Buffer;
    // The root, token and request go in as arguments; the script prints the status and reply size.
    const script = [
      "import sys, grpc",
      "root, name, target, path, token, req = sys.argv[1:7]",
      "creds = grpc.ssl_channel_credentials(root.encode())",
      "ch = grpc.secure_channel(target, creds, options=[('grpc.ssl_target_name_override', name)])",
      "call = ch.unary_unary(path)",
      "for md in ([], [('authorization', 'Bearer ' + token)]):",
      "    try:",
      "        print('OK', len(call(bytes.fromhex(req), metadata=md, timeout=20)))",
      "    except grpc.RpcError as e:",
      "        print(e.code().name)",
    ].join("\n");
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [
      "-c",
      script,
      ca.rootCertPem,
      NAME,
      `127.0.0.1:${secure.port}`,
      CSR_METHOD_PATH,
      token,
      request.toString("hex"),
    ]);
    const [anonymous, withToken] = stdout.trim().split("\n");
    assert.equal(anonymous, "UNAUTHENTICATED");
    assert.match(withToken ?? "", /^OK \d{3,}$/);
  });

  test("bad requests get OAuth errors and are counted", async () => {
    const good = api.tokens.issue("shop", "cart", { audiences: ["istio-ca"] }).token;
    const expired = api.tokens.issue("shop", "cart", {
      audiences: ["istio-ca"],
      expiresAt: new Date(Date.now() - 1000),
    }).token;
    const other = api.tokens.issue("shop", "cart", { audiences: ["other"] }).token;
    const cases: [string, string, number, string][] = [
      [
        "wrong grant",
        `grant_type=password&subject_token=${good}&subject_token_type=${JWT_TOKEN_TYPE}`,
        400,
        "unsupported_grant_type",
      ],
      [
        "no token",
        `grant_type=${STS_GRANT_TYPE}&subject_token_type=${JWT_TOKEN_TYPE}`,
        400,
        "invalid_request",
      ],
      [
        "token type",
        `grant_type=${STS_GRANT_TYPE}&subject_token=${good}&subject_token_type=x`,
        400,
        "invalid_request",
      ],
      ["two tokens", coreBody(good, `&subject_token=${good}`), 400, "invalid_request"],
      ["delegation", coreBody(good, `&actor_token=${good}`), 400, "invalid_request"],
      ["audience", coreBody(good, "&audience=elsewhere"), 400, "invalid_target"],
      ["expired", coreBody(expired), 400, "invalid_request"],
      ["wrong audience token", coreBody(other), 400, "invalid_request"],
      ["garbage", coreBody("not-a-token"), 400, "invalid_request"],
    ];
    const refusedBefore = await exchanges("unauthenticated");
    for (const [what, body, status, error] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, what);
      assert.equal(r.json.error, error, what);
      assert.equal(r.json.access_token, undefined, what);
    }
    assert.equal((await exchanges("unauthenticated")) - refusedBefore, 3);
    assert.equal((await post(coreBody(good), { type: "application/json" })).status, 400);
    assert.equal((await post(coreBody("x".repeat(40 * 1024)))).status, 413);
    assert.equal((await post("", { path: "/other" })).status, 404);
    assert.equal((await post("", { method: "GET" })).status, 405);
  });
});
