// The DNS table through the listener pilot sends: queries answered as Envoy's DNS filter answers
// them from its inline table (exact names, case-insensitive, trailing dot ignored), including a
// ServiceEntry host reached through another cluster's gateway; proxies that do not capture DNS
// get no DNS listener. Input: the dns-capture golden case.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { loadConfigCase } from "../../test/helpers/config-case.ts";
import { type NodeLike, parseProxy } from "../model/parse-proxy.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { answerFromListener, DNS_LISTENER } from "./dns-table.ts";
import { translate } from "./translate.ts";

const dir = join(import.meta.dirname, "..", "testdata", "translate", "dns-capture");
const snapshot = buildSnapshot(loadConfigCase(dir));
const node = parseKubeYaml(readFileSync(join(dir, "proxy.yaml"), "utf8"))[0]?.value as NodeLike;

function dnsListenerFor(n: NodeLike): EnvoyJson | undefined {
  const parsed = parseProxy(n, snapshot);
  assert.ok(parsed.ok);
  return translate(snapshot, parsed.proxy).config.listeners.find((l) => l.name === DNS_LISTENER);
}

test("queries are answered from the table pilot sends", () => {
  const listener = dnsListenerFor(node);
  assert.ok(listener, "a proxy that captures DNS gets the DNS listener");
  assert.deepEqual(answerFromListener(listener, "payments.remote.example"), ["10.200.0.7"]);
  assert.deepEqual(answerFromListener(listener, "Reviews.Shop.svc.cluster.local."), ["10.96.3.10"]);
  const auto = answerFromListener(listener, "api.partner.example");
  assert.equal(auto?.length, 1);
  assert.match(auto?.[0] ?? "", /^240\.240\.\d+\.\d+$/);
  // No VIP (headless, wildcard) or not visible (exported elsewhere): left to upstream DNS.
  for (const name of ["db.shop.svc.cluster.local", "x.cdn.example", "private.other.example"]) {
    assert.equal(answerFromListener(listener, name), undefined, name);
  }
});

test("a proxy that does not capture DNS gets no DNS listener", () => {
  const metadata = { ...(node.metadata as Record<string, unknown>) };
  delete metadata.DNS_CAPTURE;
  assert.equal(dnsListenerFor({ ...node, metadata }), undefined);
});
