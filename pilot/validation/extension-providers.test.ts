// The mesh config's ext_authz providers: what istiod refuses (mesh validation and its authz
// builder) is refused here too, with istiod's reasons, and Remora's additions for values Envoy
// would NACK.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExtensionProvider } from "../model/mesh-config.ts";
import { extAuthzProviderProblems, validateExtensionProviders } from "./extension-providers.ts";

const SVC = "authz.security.svc.cluster.local";

function problems(entry: ExtensionProvider): string[] {
  return extAuthzProviderProblems([entry])[0]?.problems ?? [];
}

test("a complete HTTP provider and a gRPC one have no problems", () => {
  const found = extAuthzProviderProblems([
    {
      name: "ext-http",
      envoyExtAuthzHttp: {
        service: SVC,
        port: 8000,
        timeout: "1.5s",
        pathPrefix: "/authz/check",
        failOpen: true,
        statusOnError: "502",
        includeRequestHeadersInCheck: ["x-*", "*-id", "authorization"],
        includeAdditionalHeadersInCheck: { "x-from": "mesh" },
        headersToUpstreamOnAllow: ["x-user"],
        headersToDownstreamOnDeny: ["x-why"],
        headersToDownstreamOnAllow: ["x-ok"],
        includeRequestBodyInCheck: { maxRequestBytes: 100, allowPartialMessage: true, packAsBytes: true },
      },
    },
    { name: "ext-grpc", envoyExtAuthzGrpc: { service: `security/${SVC}`, port: 9000 } },
    { name: "by-ip", envoyExtAuthzGrpc: { service: "10.1.2.3", port: 9000 } },
  ]);
  assert.deepEqual(
    found.map((p) => [p.name, p.kind, p.problems]),
    [
      ["ext-http", "envoyExtAuthzHttp", []],
      ["ext-grpc", "envoyExtAuthzGrpc", []],
      ["by-ip", "envoyExtAuthzGrpc", []],
    ],
  );
});

test("names: present, unique, and usable in metadata keys (lowercase, digits, inner hyphens, 63 at most)", () => {
  const http = { service: SVC, port: 80 };
  const found = extAuthzProviderProblems([
    { name: "", envoyExtAuthzHttp: http },
    { name: "dup", envoyExtAuthzHttp: http },
    { name: "dup", envoyExtAuthzGrpc: http },
    { name: "Upper", envoyExtAuthzHttp: http },
    { name: "under_score", envoyExtAuthzHttp: http },
    { name: "-edge", envoyExtAuthzHttp: http },
    { name: "a".repeat(64), envoyExtAuthzHttp: http },
  ]);
  const msg = (i: number) => found[i]?.problems.join("; ") ?? "";
  assert.match(msg(0), /name must not be empty, found empty at index: 0/);
  assert.equal(msg(1), "");
  assert.match(msg(2), /must be unique, found duplicate: dup/);
  assert.match(msg(3), /uppercase letters not allowed/);
  assert.match(msg(4), /invalid character "_" at position 5/);
  assert.match(msg(5), /cannot start or end with hyphen/);
  assert.match(msg(6), /too long \(max 63 characters\): 64/);
});

test("a duplicate name counts against providers of other kinds too; those kinds are not checked", () => {
  const found = extAuthzProviderProblems([
    { name: "tracing", zipkin: { service: "zipkin.istio-system.svc.cluster.local", port: 9411 } },
    { name: "tracing", envoyExtAuthzHttp: { service: SVC, port: 80 } },
  ]);
  assert.equal(found.length, 1, "the zipkin entry is not an authorizer");
  assert.match(found[0]?.problems.join() ?? "", /found duplicate: tracing/);
});

test("service, port, statusOnError, pathPrefix and header wildcards as istiod checks them", () => {
  assert.match(problems({ name: "p", envoyExtAuthzHttp: { port: 80 } }).join(), /service must not be empty/);
  assert.match(
    problems({ name: "p", envoyExtAuthzHttp: { service: "bad_host!", port: 80 } }).join(),
    /invalid service "bad_host!"/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: `Bad_Ns/${SVC}`, port: 80 } }).join(),
    /invalid namespace value "Bad_Ns"/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: SVC } }).join(),
    /port must be in the range \[1, 65535\], found: 0/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: SVC, port: 70000 } }).join(),
    /found: 70000/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzHttp: { service: SVC, port: 80, statusOnError: "abc" } }).join(),
    /invalid statusOnError "abc"/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: SVC, port: 80, statusOnError: "299" } }).join(),
    /unsupported statusOnError 299, supported values: 100, 200/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzHttp: { service: SVC, port: 80, pathPrefix: "check" } }).join(),
    /pathPrefix must begin with `\/`, found: "check"/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzHttp: { service: SVC, port: 80, pathPrefix: "/a%zz" } }).join(),
    /invalid pathPrefix "\/a%zz": not a URL path/,
  );
  for (const field of [
    "includeRequestHeadersInCheck",
    "includeHeadersInCheck",
    "headersToUpstreamOnAllow",
    "headersToDownstreamOnDeny",
    "headersToDownstreamOnAllow",
  ]) {
    assert.match(
      problems({ name: "p", envoyExtAuthzHttp: { service: SVC, port: 80, [field]: ["a", "*"] } }).join(),
      new RegExp(`a single wildcard \\("\\*"\\) is not supported.*: ${field}`),
    );
  }
});

test("values Envoy would refuse: status 0, a bad or zero timeout, an empty body buffer", () => {
  assert.match(
    problems({ name: "p", envoyExtAuthzHttp: { service: SVC, port: 80, statusOnError: "0" } }).join(),
    /unsupported statusOnError 0/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: SVC, port: 80, timeout: "soon" } }).join(),
    /timeout "soon" is not a positive duration/,
  );
  assert.match(
    problems({ name: "p", envoyExtAuthzGrpc: { service: SVC, port: 80, timeout: "0s" } }).join(),
    /timeout "0s"/,
  );
  assert.match(
    problems({
      name: "p",
      envoyExtAuthzHttp: { service: SVC, port: 80, includeRequestBodyInCheck: { allowPartialMessage: true } },
    }).join(),
    /maxRequestBytes must be a whole number of bytes above 0/,
  );
});

test("diagnostics name the mesh config entry and say what happens to CUSTOM policies", () => {
  const diags = validateExtensionProviders({
    extensionProviders: [
      { name: "fine", envoyExtAuthzGrpc: { service: SVC, port: 9000 } },
      { name: "broken", envoyExtAuthzGrpc: { service: SVC, port: 0 } },
    ],
  });
  assert.equal(diags.length, 1);
  assert.equal(diags[0]?.code, "CFG0022");
  assert.equal(diags[0]?.path, "extensionProviders[1]");
  assert.deepEqual(diags[0]?.ref, { kind: "MeshConfig", name: "mesh" });
  assert.match(diags[0]?.message ?? "", /"broken".*port must be in the range.*deny the requests they match/);
  assert.deepEqual(validateExtensionProviders({}), []);
});
