// The server's per-class translation cache: configs are shared by proxies with one cache key, but
// a resource the backend refuses is filled in from each proxy's own last config, so two proxies of
// one class with different histories must not receive each other's fallbacks, in either order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeJson } from "../envoy/proto.ts";
import type { EnvoyJson, ProxyConfig, XdsKind } from "../model/proxy-config.ts";
import { TYPE_URLS } from "../model/proxy-config.ts";
import type { ChangeSet } from "../model/snapshot.ts";
import { createXdsMetrics } from "./metrics.ts";
import type { PreparedConfig } from "./resources.ts";
import { Translations } from "./translations.ts";
import type { XdsBackend } from "./types.ts";

interface Snap {
  version: string;
  changes: ChangeSet;
  /** Route "r" is refused (as the serving gate refuses a bad resource). */
  bad: boolean;
}

const changes: ChangeSet = { kinds: new Set(), endpointHosts: new Set(), endpointsOnly: false, full: true };
const route = (v: string): EnvoyJson => ({ name: "r", virtual_hosts: [{ name: v, domains: ["*"] }] });

const backend: XdsBackend<Snap, string> = {
  parseProxy: () => ({ ok: false, error: "unused" }),
  cacheKey: () => "one-class",
  generate(s) {
    const config: ProxyConfig = {
      listeners: [],
      routes: s.bad ? [] : [route(s.version)],
      clusters: [],
      endpoints: [],
      secrets: [],
    };
    const refused: { kind: XdsKind; name: string }[] = s.bad ? [{ kind: "route", name: "r" }] : [];
    return Object.assign({ config, diagnostics: [] }, { refused });
  },
};

const routes = (c: PreparedConfig) => [...c.types.route.byName.values()].map((r) => JSON.stringify(r.json));

test("a refused resource is filled in from each proxy's own last config, whatever the order", () => {
  for (const order of [
    ["old", "new"],
    ["new", "old"],
  ]) {
    const t = new Translations(
      backend,
      (kind, json) => encodeJson(TYPE_URLS[kind], json),
      createXdsMetrics(),
    );
    const good: Snap = { version: "1", changes, bad: false };
    const lastOld = t.get(good, "old", undefined).config; // "old" was pushed a good route r
    t.advance(good);
    const bad: Snap = { version: "2", changes, bad: true };
    const got = new Map<string, PreparedConfig>();
    for (const who of order) got.set(who, t.get(bad, who, who === "old" ? lastOld : undefined).config);
    assert.deepEqual(
      routes(got.get("old") as PreparedConfig),
      [JSON.stringify(route("1"))],
      `order ${order}: old keeps r`,
    );
    assert.deepEqual(routes(got.get("new") as PreparedConfig), [], `order ${order}: new never had r`);
  }
});
