// The serving gate remembers what it concluded (per object, per content, per virtual host of a
// route configuration) and must conclude exactly what a gate with nothing remembered does. A
// config goes through a series of changes where, as in translation, unchanged resources stay the
// very same objects; after each, the warm gate's verdicts equal those of a cold gate on a deep
// copy. Changes include one that breaks a reference held by an unchanged resource (a listener's
// route configuration, a cluster's load assignment, refused or gone).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type EnvoyJson, type ProxyConfig, TYPE_URLS } from "../model/proxy-config.ts";
import { fakeListener } from "../xds/fake-backend.ts";
import { checkProxyConfig, clearCheckCache, encodeResource, validateResource } from "./check.ts";
import { contentHash } from "./content-hash.ts";
import { fastEncode } from "./fast-encode.ts";
import { envoyType } from "./proto.ts";

const vhost = (i: number, timeout = "10s"): EnvoyJson => ({
  name: `svc-${i}.default.svc.cluster.local:8080`,
  domains: [`svc-${i}.default.svc.cluster.local`, `svc-${i}`],
  routes: [{ match: { prefix: "/" }, route: { cluster: `outbound|8080||svc-${i}`, timeout } }],
});

const routeConfig = (name: string, vhosts: EnvoyJson[]): EnvoyJson => ({
  name,
  virtual_hosts: vhosts,
  validate_clusters: false,
  max_direct_response_body_size_bytes: 1048576,
});

const cluster = (i: number): EnvoyJson => ({
  name: `outbound|8080||svc-${i}`,
  type: "EDS",
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
  connect_timeout: "10s",
});

const cla = (i: number, ip = `10.0.0.${i}`): EnvoyJson => ({
  cluster_name: `outbound|8080||svc-${i}`,
  endpoints: [
    { lb_endpoints: [{ endpoint: { address: { socket_address: { address: ip, port_value: 8080 } } } }] },
  ],
});

/** What a gate concluded: the names it lets through per kind, and its diagnostics. */
function verdict(config: ProxyConfig) {
  const { ok, diagnostics } = checkProxyConfig(config);
  const names = (list: EnvoyJson[]) => list.map((r) => String(r.name ?? r.cluster_name));
  return {
    listeners: names(ok.listeners),
    routes: names(ok.routes),
    clusters: names(ok.clusters),
    endpoints: names(ok.endpoints),
    diagnostics,
  };
}

test("the remembering gate concludes what a gate with nothing remembered does", () => {
  const N = 24;
  let vhosts = Array.from({ length: N }, (_, i) => vhost(i));
  const clusters = Array.from({ length: N }, (_, i) => cluster(i));
  let endpoints = Array.from({ length: N }, (_, i) => cla(i));
  const l8080 = fakeListener(8080);
  const l9090 = fakeListener(9090);
  const small = routeConfig("9090", [vhost(100)]);
  const configOf = (): ProxyConfig => ({
    listeners: [l8080, l9090],
    routes: [routeConfig("8080", vhosts), small],
    clusters,
    endpoints,
    secrets: [],
  });
  const setVhost = (i: number, v: EnvoyJson) => {
    vhosts = vhosts.map((x, j) => (j === i ? v : x));
  };
  const steps: [string, () => void][] = [
    ["unchanged", () => {}],
    ["one virtual host's timeout", () => setVhost(3, vhost(3, "7s"))],
    // The listener of port 8080 is the same object throughout: its route configuration going
    // away must take it out, and coming back must let it through again.
    [
      "a virtual host with an unknown field (the route configuration is refused)",
      () => setVhost(5, { ...vhost(5), bogus: 1 }),
    ],
    ["the virtual host fixed", () => setVhost(5, vhost(5))],
    ["a virtual host without domains (breaks a constraint)", () => setVhost(7, { ...vhost(7), domains: [] })],
    ["domains back", () => setVhost(7, vhost(7))],
    [
      "a virtual host moved to another position",
      () => (vhosts = [vhosts[N - 1] as EnvoyJson, ...vhosts.slice(0, N - 1)]),
    ],
    ["a load assignment gone (its unchanged cluster is refused)", () => (endpoints = endpoints.slice(1))],
    ["the load assignment back", () => (endpoints = [cla(0), ...endpoints])],
    [
      "a load assignment listing an address twice",
      () =>
        (endpoints = endpoints.map((e, i) =>
          i === 2
            ? {
                ...cla(2),
                endpoints: [...(cla(2).endpoints as EnvoyJson[]), ...(cla(2).endpoints as EnvoyJson[])],
              }
            : e,
        )),
    ],
    ["a virtual host added", () => (vhosts = [...vhosts, vhost(N)])],
  ];
  for (const [name, apply] of steps) {
    apply();
    const config = configOf();
    const warm = verdict(config);
    clearCheckCache();
    const cold = verdict(structuredClone(config));
    assert.deepEqual(warm, cold, name);
    if (name.includes("route configuration is refused")) {
      assert.deepEqual(
        warm.listeners,
        ["0.0.0.0_9090"],
        "the unchanged listener of the refused route is held back",
      );
    }
    if (name.includes("its unchanged cluster is refused")) {
      assert.ok(
        !warm.clusters.includes("outbound|8080||svc-0"),
        "the unchanged cluster without its assignment is held back",
      );
    }
    if (name === "the virtual host fixed") assert.deepEqual(warm.listeners, ["0.0.0.0_8080", "0.0.0.0_9090"]);
    // Warm again on the same objects (the next push), after the cold run emptied the caches.
    verdict(config);
    assert.deepEqual(verdict(config), cold, `${name} (again)`);
  }
});

test("a route configuration assembled from its virtual hosts has the whole encoding's bytes and hash", () => {
  const type = envoyType(TYPE_URLS.route);
  const vhosts = Array.from({ length: 30 }, (_, i) => vhost(i));
  const a = routeConfig("8080", vhosts);
  assert.deepEqual(encodeResource("route", a), fastEncode(type, a));
  assert.deepEqual(validateResource("route", a), []);
  // One virtual host changed, the rest the same objects: parts are reused, bytes stay exact.
  const b = routeConfig(
    "8080",
    vhosts.map((v, i) => (i === 4 ? vhost(4, "3s") : v)),
  );
  assert.deepEqual(encodeResource("route", b), fastEncode(type, structuredClone(b)));
  assert.equal(contentHash(b), contentHash(structuredClone(b)), "the hash depends on content only");
  assert.notEqual(contentHash(b), contentHash(a));
  // A problem found part by part is reported with its full path, as a whole check gives it.
  const bad = routeConfig(
    "8080",
    vhosts.map((v, i) => (i === 9 ? { ...v, domains: [] } : v)),
  );
  const problems = validateResource("route", bad);
  assert.ok(
    problems.some((p) => p.includes("virtual_hosts[9]")),
    problems.join("; "),
  );
  assert.throws(
    () => encodeResource("route", routeConfig("8080", [...vhosts, { ...vhost(99), bogus: 1 }])),
    /bogus/,
  );
});
