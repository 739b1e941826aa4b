// The fail-closed forms of invalid security objects, case by case: what each kind of error turns
// into, from the object's own validation findings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { UNUSABLE_JWKS } from "../model/jwks.ts";
import { failClosedForm } from "./fail-closed.ts";
import { validateObject } from "./validate.ts";

const obj = (kind: string, spec: unknown, annotations?: Record<string, string>) => ({
  apiVersion: "security.istio.io/v1",
  kind,
  metadata: { name: "p", namespace: "shop", ...(annotations ? { annotations } : {}) },
  spec,
});
const formOf = (o: ReturnType<typeof obj>) => failClosedForm(o, validateObject(o));
const specOf = (o: ReturnType<typeof obj>) => formOf(o)?.object.spec;

const selector = { matchLabels: { app: "orders" } };
const badFrom = { from: [{ source: { ipBlocks: ["not-an-ip"] } }] };
const good = { to: [{ operation: { methods: ["GET"] } }] };

test("valid objects and other groups have no fail-closed form", () => {
  assert.equal(formOf(obj("AuthorizationPolicy", { selector, rules: [good] })), undefined);
  const vs = {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "v" },
    spec: {},
  };
  assert.equal(failClosedForm(vs, validateObject(vs)), undefined);
});

test("ALLOW: an invalid rule is skipped (null keeps the names); errors outside rules allow nothing", () => {
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { selector, rules: [badFrom, good] })), {
    selector,
    rules: [null, good],
  });
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { selector, provider: { name: "x" }, rules: [good] })), {
    selector,
    provider: { name: "x" },
    rules: [],
  });
});

test("DENY and AUDIT: an invalid rule matches everything; DENY without rules denies everything", () => {
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { action: "DENY", rules: [good, badFrom] })), {
    action: "DENY",
    rules: [good, {}],
  });
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { action: "AUDIT", rules: [badFrom] })), {
    action: "AUDIT",
    rules: [{}],
  });
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { selector, action: "DENY" })), {
    selector,
    action: "DENY",
    rules: [{}],
  });
});

test("CUSTOM: an invalid rule or no rules send everything to the provider; a missing provider is left to the translation", () => {
  const rule = { from: [{ source: { principals: ["a"] } }] }; // principals: not with CUSTOM
  assert.deepEqual(
    specOf(obj("AuthorizationPolicy", { action: "CUSTOM", provider: { name: "ext" }, rules: [rule, good] })),
    { action: "CUSTOM", provider: { name: "ext" }, rules: [{}, good] },
  );
  // Without a provider the rules stay: the translation denies what they match (bad CUSTOM action).
  const noProvider = obj("AuthorizationPolicy", { action: "CUSTOM", provider: {}, rules: [good] });
  assert.deepEqual(specOf(noProvider), noProvider.spec);
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { action: "CUSTOM", provider: { name: "ext" } })), {
    action: "CUSTOM",
    provider: { name: "ext" },
    rules: [{}],
  });
});

test("an action that is not Istio's denies everything; a bad dry-run value is enforced", () => {
  assert.deepEqual(specOf(obj("AuthorizationPolicy", { action: "BLOCK", rules: [good] })), {
    action: "DENY",
    rules: [{}],
  });
  const f = formOf(obj("AuthorizationPolicy", { rules: [good] }, { "istio.io/dry-run": "maybe", team: "a" }));
  assert.deepEqual(f?.object.metadata, { name: "p", namespace: "shop", annotations: { team: "a" } });
  assert.deepEqual(f?.object.spec, { rules: [good] });
});

test("a valid dry-run value stays: the fail-closed form of a dry-run policy is still not enforced", () => {
  const f = formOf(
    obj("AuthorizationPolicy", { action: "DENY", rules: [badFrom] }, { "istio.io/dry-run": "true" }),
  );
  assert.deepEqual(f?.object.metadata, {
    name: "p",
    namespace: "shop",
    annotations: { "istio.io/dry-run": "true" },
  });
  assert.deepEqual(f?.object.spec, { action: "DENY", rules: [{}] });
  assert.match(f?.summary ?? "", /dry run .* only logged, never enforced/);
  // An action that is not Istio's is a DENY of everything, dry run or not.
  const odd = formOf(
    obj("AuthorizationPolicy", { action: 7, rules: [good] }, { "istio.io/dry-run": "true" }),
  );
  assert.deepEqual(odd?.object.metadata, { name: "p", namespace: "shop", annotations: {} });
  assert.deepEqual(odd?.object.spec, { action: "DENY", rules: [{}] });
});

test("PeerAuthentication: an unknown mode or an unusable STRICT port setting makes it STRICT", () => {
  assert.deepEqual(specOf(obj("PeerAuthentication", { selector, mtls: { mode: "STRICTLY" } })), {
    selector,
    mtls: { mode: "STRICT" },
  });
  // Port-level settings need a selector: a STRICT one raises the namespace policy instead.
  assert.deepEqual(
    specOf(
      obj("PeerAuthentication", {
        mtls: { mode: "PERMISSIVE" },
        portLevelMtls: { "8080": { mode: "STRICT" } },
      }),
    ),
    { mtls: { mode: "STRICT" } },
  );
  // A port that is no port names nothing: DISABLE there is dropped, the mode stays.
  assert.deepEqual(
    specOf(
      obj("PeerAuthentication", {
        selector,
        mtls: { mode: "PERMISSIVE" },
        portLevelMtls: { "0": { mode: "DISABLE" }, "9000": { mode: "DISABLE" } },
      }),
    ),
    { selector, mtls: { mode: "PERMISSIVE" }, portLevelMtls: { "9000": { mode: "DISABLE" } } },
  );
});

test("RequestAuthentication: an invalid JWT rule refuses its issuer's tokens where it looked for them", () => {
  const spec = specOf(
    obj("RequestAuthentication", {
      selector,
      jwtRules: [
        {
          issuer: "a",
          jwksUri: "ftp://x",
          fromHeaders: [{ name: "x-jwt" }],
          outputClaimToHeaders: [{ claim: "s" }],
        },
        { issuer: "b", jwks: UNUSABLE_JWKS },
      ],
    }),
  );
  assert.deepEqual(spec, {
    selector,
    jwtRules: [
      { issuer: "a", fromHeaders: [{ name: "x-jwt" }], jwks: UNUSABLE_JWKS },
      { issuer: "b", jwks: UNUSABLE_JWKS },
    ],
  });
});
