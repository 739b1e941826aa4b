// The serving gate: strict encoding (fast path equal to protojson), validate.rules, references.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseKubeYaml } from "../../injector/index.ts";
import { type EnvoyJson, type ProxyConfig, TYPE_URLS } from "../model/proxy-config.ts";
import { checkProxyConfig, encodeResource, validateResource } from "./check.ts";
import { fastEncode } from "./fast-encode.ts";
import { encodeJson, envoyType } from "./proto.ts";

const GOLDEN = join(import.meta.dirname, "..", "testdata", "translate");

test("the fast strict encoder gives the same bytes as protojson for every golden resource", () => {
  let n = 0;
  for (const c of readdirSync(GOLDEN)) {
    for (const [file, kind] of [
      ["listeners", "listener"],
      ["routes", "route"],
      ["clusters", "cluster"],
      ["endpoints", "endpoint"],
    ] as const) {
      const list = parseKubeYaml(readFileSync(join(GOLDEN, c, `${file}.yaml`), "utf8"))[0]
        ?.value as EnvoyJson[];
      for (const r of list) {
        const expected = encodeJson(TYPE_URLS[kind], r);
        assert.deepEqual(encodeResource(kind, r), expected, `${c}/${file} ${String(r.name)}`);
        // Every emitted type, Struct metadata included, is on the fast path: no fallback per resource.
        assert.deepEqual(
          fastEncode(envoyType(TYPE_URLS[kind]), r),
          expected,
          `${c}/${file} ${String(r.name)} (fast)`,
        );
        n++;
      }
    }
  }
  assert.ok(n > 100);
});

test("strict encoding rejects unknown fields, unknown Any types, bad enums and oneof conflicts", () => {
  assert.throws(() => encodeResource("cluster", { name: "c", typo_field: 1 }), /typo_field: unknown field/);
  assert.throws(() => encodeResource("cluster", { name: "c", type: "NOPE" }), /"NOPE" is not a/);
  assert.throws(
    () => encodeResource("cluster", { name: "c", connect_timeout: "10 seconds" }),
    /not a Duration/,
  );
  assert.throws(
    () =>
      encodeResource("listener", {
        name: "l",
        filter_chains: [
          { filters: [{ name: "x", typed_config: { "@type": "type.googleapis.com/nope.Nope" } }] },
        ],
      }),
    /unknown Any type/,
  );
  assert.throws(
    () =>
      encodeResource("route", {
        name: "r",
        virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/", path: "/x" } }] }],
      }),
    /conflicts with prefix/,
  );
});

test("validate.rules: required fields, min_len, numeric ranges", () => {
  assert.deepEqual(validateResource("cluster", { name: "ok", connect_timeout: "1s" }), []);
  assert.match(validateResource("cluster", { connect_timeout: "1s" }).join(), /name: must be at least 1/);
  const route = {
    name: "r",
    virtual_hosts: [
      { name: "v", domains: [], routes: [{ match: { prefix: "/" }, route: { cluster: "c" } }] },
    ],
  };
  assert.match(validateResource("route", route).join(), /domains: needs at least 1/);
  const noAction = {
    name: "r",
    virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" } }] }],
  };
  assert.match(validateResource("route", noAction).join(), /one of route, redirect/);
  const cla = {
    cluster_name: "c",
    endpoints: [
      {
        lb_endpoints: [
          {
            endpoint: { address: { socket_address: { address: "1.2.3.4", port_value: 80 } } },
            load_balancing_weight: 0,
          },
        ],
      },
    ],
  };
  assert.match(validateResource("endpoint", cla).join(), /load_balancing_weight: must be >= 1/);
  const badHeader = {
    name: "r",
    virtual_hosts: [
      {
        name: "v",
        domains: ["*"],
        routes: [
          {
            match: { prefix: "/", headers: [{ name: "bad\nheader", present_match: true }] },
            route: { cluster: "c" },
          },
        ],
      },
    ],
  };
  assert.match(validateResource("route", badHeader).join(), /not a valid HTTP header name/);
});

test("checkProxyConfig drops bad resources and what references them", () => {
  const config: ProxyConfig = {
    listeners: [
      {
        name: "0.0.0.0_80",
        address: { socket_address: { address: "0.0.0.0", port_value: 80 } },
        filter_chains: [
          {
            filters: [
              {
                name: "envoy.filters.network.http_connection_manager",
                typed_config: {
                  "@type":
                    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                  stat_prefix: "x",
                  rds: { config_source: { ads: {} }, route_config_name: "80" },
                  http_filters: [
                    {
                      name: "envoy.filters.http.router",
                      typed_config: {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                      },
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
    routes: [
      {
        name: "80",
        virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, bogus: true }] }],
      },
    ],
    clusters: [
      { name: "a", type: "EDS", eds_cluster_config: { eds_config: { ads: {} } } },
      { name: "b", type: "EDS", eds_cluster_config: { eds_config: { ads: {} } } },
    ],
    endpoints: [{ cluster_name: "a" }],
    secrets: [],
  };
  const { ok, diagnostics } = checkProxyConfig(config);
  assert.deepEqual(ok.routes, []);
  assert.deepEqual(ok.listeners, []);
  assert.deepEqual(
    ok.clusters.map((c) => c.name),
    ["a"],
  );
  assert.equal(diagnostics.length, 3);
  assert.match(diagnostics.map((d) => d.message).join("\n"), /route 80 was not served.*bogus/);
  assert.match(
    diagnostics.map((d) => d.message).join("\n"),
    /listener 0.0.0.0_80 .*route configuration\(s\) 80/,
  );
  assert.match(diagnostics.map((d) => d.message).join("\n"), /cluster b .*EDS b/);
});

test("the fast strict encoder matches protojson on integer, enum and duration edge forms", () => {
  const clusters: EnvoyJson[] = [
    { name: "c", connect_timeout: "0s" },
    { name: "c", connect_timeout: "-1.5s" },
    { name: "c", connect_timeout: "315576000000.000000001s" },
    { name: "c", per_connection_buffer_limit_bytes: "0" },
    { name: "c", per_connection_buffer_limit_bytes: "4294967295" },
    { name: "c", type: 0, lb_policy: 3 },
    { name: "c", type: "STATIC", dns_lookup_family: "V4_ONLY" },
    { name: "c", max_requests_per_connection: "7" },
    {
      name: "c",
      typed_extension_protocol_options: {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
          "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
          explicit_http_config: {
            http2_protocol_options: { max_concurrent_streams: "100", initial_stream_window_size: 65536 },
          },
        },
      },
    },
    {
      name: "c",
      load_assignment: {
        cluster_name: "c",
        endpoints: [
          {
            priority: 0,
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: "1.2.3.4", port_value: 0 } } } },
            ],
          },
        ],
      },
    },
  ];
  for (const r of clusters) {
    assert.deepEqual(encodeResource("cluster", r), encodeJson(TYPE_URLS.cluster, r), JSON.stringify(r));
  }
  // An Any directly inside an Any still needs its own @type.
  assert.throws(
    () =>
      encodeResource("listener", {
        name: "l",
        listener_filters: [
          {
            name: "f",
            typed_config: {
              "@type": "type.googleapis.com/google.protobuf.Any",
            },
          },
        ],
      }),
    /an Any needs @type/,
  );
});

test("the gate's verdicts carry over to new objects with the same content, good and bad", () => {
  const config = (): ProxyConfig => ({
    listeners: [],
    routes: [],
    clusters: [
      { name: "good", type: "STATIC", connect_timeout: "1s" },
      { name: "bad", type: "STATIC", connect_timeout: "1s", typo_field: 1 },
    ],
    endpoints: [],
    secrets: [],
  });
  const first = checkProxyConfig(config());
  const second = checkProxyConfig(config());
  assert.deepEqual(
    second.ok.clusters.map((c) => c.name),
    ["good"],
  );
  assert.deepEqual(
    second.diagnostics.map((d) => d.message),
    first.diagnostics.map((d) => d.message),
    "the remembered rejection is reported again, word for word",
  );
  assert.match(second.diagnostics[0]?.message ?? "", /typo_field/);
  // A change of content is a new verdict.
  const changed = config();
  delete (changed.clusters[1] as EnvoyJson).typo_field;
  assert.equal(checkProxyConfig(changed).ok.clusters.length, 2);
});

test("the gate refuses a load assignment that lists an address twice, naming the host and the address", () => {
  const lb = (ip: string, port: number) => ({
    endpoint: { address: { socket_address: { address: ip, port_value: port } } },
  });
  const name = "outbound|7070||echo.default.svc.cluster.local";
  const eds = { name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} }, service_name: name } };
  const config = (endpoints: unknown[]): ProxyConfig => ({
    listeners: [],
    routes: [],
    clusters: [eds],
    endpoints: [{ cluster_name: name, endpoints }],
    secrets: [],
  });
  // Across localities too: gRPC clients check the whole assignment.
  const dup = checkProxyConfig(
    config([
      { locality: { zone: "a" }, lb_endpoints: [lb("10.0.0.1", 80), lb("10.0.0.2", 80)] },
      { locality: { zone: "b" }, lb_endpoints: [lb("10.0.0.1", 80)] },
    ]),
  );
  assert.deepEqual(dup.ok.endpoints, []);
  assert.deepEqual(dup.ok.clusters, [], "the cluster goes with its endpoints");
  const text = dup.diagnostics.map((d) => d.message).join("\n");
  assert.match(text, /endpoint outbound\|7070\|\|echo\.default\.svc\.cluster\.local was not served/);
  assert.match(text, /10\.0\.0\.1:80 .*twice/);
  // A locality listed twice at one priority is refused too; distinct ports are fine.
  assert.match(
    checkProxyConfig(
      config([
        { locality: { zone: "a" }, lb_endpoints: [lb("10.0.0.1", 80)] },
        { locality: { zone: "a" }, lb_endpoints: [lb("10.0.0.2", 80)] },
      ]),
    )
      .diagnostics.map((d) => d.message)
      .join(),
    /locality .*zone.*a.* twice/,
  );
  const fine = checkProxyConfig(
    config([{ locality: {}, lb_endpoints: [lb("10.0.0.1", 80), lb("10.0.0.1", 81)] }]),
  );
  assert.deepEqual(fine.diagnostics, []);
  // Inline assignments (DNS clusters) follow the same rule.
  const dns = {
    name: "outbound|80||db.example.com",
    type: "STRICT_DNS",
    load_assignment: {
      cluster_name: "outbound|80||db.example.com",
      endpoints: [{ lb_endpoints: [lb("db.example.com", 80), lb("db.example.com", 80)] }],
    },
  };
  const inline = checkProxyConfig({ listeners: [], routes: [], clusters: [dns], endpoints: [], secrets: [] });
  assert.match(
    inline.diagnostics.map((d) => d.message).join(),
    /cluster outbound\|80\|\|db\.example\.com .*db\.example\.com:80 .*twice/,
  );
});

test("Struct metadata of every JSON shape encodes on the fast path as protojson does", () => {
  const url = TYPE_URLS.cluster;
  const r = {
    name: "c",
    metadata: { filter_metadata: { x: { a: [1, "b", true, null, { c: [] }], d: { e: 2.5 }, f: {} } } },
  };
  assert.deepEqual(fastEncode(envoyType(url), r), encodeJson(url, r));
  assert.throws(
    () => fastEncode(envoyType(url), { name: "c", metadata: { filter_metadata: { x: [] } } }),
    /Struct/,
  );
});
