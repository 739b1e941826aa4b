// networking.istio.io EnvoyFilter rules, after istiod's ValidateEnvoyFilter: always a warning that
// EnvoyFilter patches Envoy's internals (and that Remora does not apply them), the workload
// selector, each patch's applyTo, operation and value, the proxyVersion regex, matches that fit the
// patched object, deprecated filter names, and the patch value read as the Envoy type it patches
// (with Envoy's protos: a wrong type or an unknown Any type is an error, an unknown field a warning,
// as istiod reads it first leniently, then strictly).

import protojson from "protobufjs/ext/protojson.js";
import { envoyType, messageFromJson } from "../envoy/proto.ts";
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { checkPort, parseDuration, re2Problem } from "./primitives.ts";
import { checkSelectorLabels } from "./security.ts";

export const EF = {
  INTERNALS: "EF0001",
  SELECTOR: "EF0002",
  PATCH: "EF0003",
  MATCH: "EF0004",
  VALUE: "EF0005",
} as const;

/** The Envoy type a patch value of each applyTo is read as. */
const VALUE_TYPES: Record<string, string> = {
  CLUSTER: "envoy.config.cluster.v3.Cluster",
  LISTENER: "envoy.config.listener.v3.Listener",
  ROUTE_CONFIGURATION: "envoy.config.route.v3.RouteConfiguration",
  FILTER_CHAIN: "envoy.config.listener.v3.FilterChain",
  HTTP_FILTER: "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter",
  NETWORK_FILTER: "envoy.config.listener.v3.Filter",
  VIRTUAL_HOST: "envoy.config.route.v3.VirtualHost",
  HTTP_ROUTE: "envoy.config.route.v3.Route",
  EXTENSION_CONFIG: "envoy.config.core.v3.TypedExtensionConfig",
  BOOTSTRAP: "envoy.config.bootstrap.v3.Bootstrap",
  LISTENER_FILTER: "envoy.config.listener.v3.ListenerFilter",
};
const LISTENER_CLASS = new Set(["LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER"]);
const ROUTE_CLASS = new Set(["ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"]);
const HCM = "envoy.filters.network.http_connection_manager";
const MAX_PROXY_VERSION = 1024;

/** Filter names Envoy renamed (old → canonical); istiod still matches the old ones, with a warning. */
const DEPRECATED_NAMES: Record<string, string> = {
  "envoy.buffer": "envoy.filters.http.buffer",
  "envoy.cors": "envoy.filters.http.cors",
  "envoy.csrf": "envoy.filters.http.csrf",
  "envoy.http_dynamo_filter": "envoy.filters.http.dynamo",
  "envoy.fault": "envoy.filters.http.fault",
  "envoy.grpc_http1_bridge": "envoy.filters.http.grpc_http1_bridge",
  "envoy.grpc_json_transcoder": "envoy.filters.http.grpc_json_transcoder",
  "envoy.grpc_web": "envoy.filters.http.grpc_web",
  "envoy.gzip": "envoy.filters.http.gzip",
  "envoy.health_check": "envoy.filters.http.health_check",
  "envoy.ip_tagging": "envoy.filters.http.ip_tagging",
  "envoy.lua": "envoy.filters.http.lua",
  "envoy.rate_limit": "envoy.filters.http.ratelimit",
  "envoy.router": "envoy.filters.http.router",
  "envoy.squash": "envoy.filters.http.squash",
  "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
  "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
  "envoy.listener.original_src": "envoy.filters.listener.original_src",
  "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
  "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
  "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth",
  "envoy.ext_authz": "envoy.filters.network.ext_authz",
  "envoy.http_connection_manager": HCM,
  "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy",
  "envoy.ratelimit": "envoy.filters.network.ratelimit",
  "envoy.redis_proxy": "envoy.filters.network.redis_proxy",
  "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
};

const present = (v: unknown) => v !== undefined && v !== null;
const GO_DURATION = /^\d+(\.\d+)?(ns|us|µs|ms|m|h)(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))*$/;

/**
 * istiod reads durations in Go's form ("500ms", "1m") as well as protobuf's ("0.5s"); protobuf's
 * JSON reader only knows the latter. Rewriting every Go-form string is harmless here: the value is
 * only read to check its types, and a string stays a string.
 */
function protoDurations(v: unknown): unknown {
  if (typeof v === "string") {
    const ms = GO_DURATION.test(v) ? parseDuration(v) : undefined;
    return ms === undefined ? v : `${ms / 1000}s`;
  }
  if (Array.isArray(v)) return v.map(protoDurations);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, protoDurations(x)]));
  return v;
}

function checkValue(f: Findings, path: string, applyTo: string, value: unknown): void {
  const typeName = VALUE_TYPES[applyTo];
  if (!typeName) return;
  const type = envoyType(typeName);
  const json = protoDurations(value);
  try {
    protojson.fromJson(type, json, { ignoreUnknownFields: true });
  } catch (err) {
    const msg = (err as Error).message;
    const v2 = /no such type: .*\.v2\./.test(msg) ? " (hint: use the v3 xDS API)" : "";
    f.error(EF.VALUE, path, `the patch value is not a valid ${typeName}: ${msg}${v2}`);
    return;
  }
  try {
    messageFromJson(type, json);
  } catch (err) {
    f.warn(
      EF.VALUE,
      path,
      `${(err as Error).message}: a typo, or a newer Envoy field or value than Remora's protos know (Envoy ignores what it does not know)`,
    );
  }
}

function checkMatch(f: Findings, path: string, applyTo: string, match: Json): void {
  const object = ["listener", "routeConfiguration", "cluster"].find((k) => present(match[k]));
  if (!object) return;
  if (LISTENER_CLASS.has(applyTo)) {
    if (object !== "listener") {
      f.error(
        EF.MATCH,
        `${path}.${object}`,
        `applyTo ${applyTo} patches listeners; match a listener, not a ${object}`,
      );
      return;
    }
    const filter = asObj(asObj(asObj(match.listener).filterChain).filter);
    if (
      !present(asObj(match.listener).filterChain) ||
      !present(asObj(asObj(match.listener).filterChain).filter)
    )
      return;
    const fp = `${path}.listener.filterChain.filter`;
    if (applyTo === "LISTENER" || applyTo === "FILTER_CHAIN")
      f.warn(EF.MATCH, fp, `a filter match has no effect with applyTo ${applyTo}`);
    const name = asStr(filter.name) ?? "";
    if (name === "") {
      f.error(EF.MATCH, `${fp}.name`, "the filter match needs the name of the filter to match");
      return;
    }
    if (present(filter.subFilter)) {
      if (applyTo !== "HTTP_FILTER") {
        f.error(EF.MATCH, `${fp}.subFilter`, "a subFilter match works with applyTo HTTP_FILTER only");
        return;
      }
      if (name !== HCM && name !== "envoy.http_connection_manager") {
        f.error(EF.MATCH, `${fp}.name`, `a subFilter match needs the filter match ${HCM}`);
        return;
      }
      if (!asStr(asObj(filter.subFilter).name)) {
        f.error(
          EF.MATCH,
          `${fp}.subFilter.name`,
          "the subFilter match needs the name of the HTTP filter to match",
        );
        return;
      }
    }
    for (const [p, n] of [
      [`${fp}.name`, name],
      [`${fp}.subFilter.name`, asStr(asObj(filter.subFilter).name) ?? ""],
    ] as const) {
      const canonical = DEPRECATED_NAMES[n];
      if (canonical) f.warn(EF.MATCH, p, `filter name ${n} is deprecated; use ${canonical}`);
    }
  } else if (ROUTE_CLASS.has(applyTo) && object !== "routeConfiguration") {
    f.error(
      EF.MATCH,
      `${path}.${object}`,
      `applyTo ${applyTo} patches routes; match a routeConfiguration, not a ${object}`,
    );
  } else if (applyTo === "CLUSTER" && object !== "cluster") {
    f.error(
      EF.MATCH,
      `${path}.${object}`,
      `applyTo CLUSTER patches clusters; match a cluster, not a ${object}`,
    );
  }
}

function checkPatch(f: Findings, path: string, raw: unknown): void {
  if (!present(raw)) {
    f.error(EF.PATCH, path, "a config patch may not be null");
    return;
  }
  const cp = asObj(raw);
  const match = asObj(cp.match);
  const waypoint = asStr(match.context) === "WAYPOINT";
  // The API server's schema rule: the waypoint match goes with the WAYPOINT context, and only there.
  if (waypoint !== present(match.waypoint))
    f.error(
      EF.MATCH,
      `${path}.match`,
      "match.waypoint is required with context WAYPOINT and allowed only there",
    );
  if (present(match.waypoint))
    checkPort(f, EF.MATCH, `${path}.match.waypoint.portNumber`, asObj(match.waypoint).portNumber);
  if (waypoint) return;
  const applyTo = asStr(cp.applyTo) ?? "INVALID";
  if (applyTo === "INVALID") {
    f.error(
      EF.PATCH,
      `${path}.applyTo`,
      "applyTo is missing; say what the patch applies to (CLUSTER, LISTENER, HTTP_FILTER…)",
    );
    return;
  }
  if (!present(cp.patch)) {
    f.error(EF.PATCH, `${path}.patch`, "the patch is missing");
    return;
  }
  const patch = asObj(cp.patch);
  const op = asStr(patch.operation) ?? "INVALID";
  if (op === "INVALID") {
    f.error(EF.PATCH, `${path}.patch.operation`, "the patch operation is missing");
    return;
  }
  if (op !== "REMOVE" && !present(patch.value)) {
    f.error(EF.PATCH, `${path}.patch.value`, `operation ${op} needs a patch value`);
    return;
  }
  const version = asStr(asObj(match.proxy).proxyVersion) ?? "";
  if (version.length > MAX_PROXY_VERSION)
    f.warn(
      EF.MATCH,
      `${path}.match.proxy.proxyVersion`,
      `a proxyVersion match over ${MAX_PROXY_VERSION} characters is ignored`,
    );
  else if (version !== "") {
    const problem = re2Problem(version);
    if (problem) {
      f.error(
        EF.MATCH,
        `${path}.match.proxy.proxyVersion`,
        `proxyVersion ${JSON.stringify(version)} is not a valid regex: ${problem}`,
      );
      return;
    }
  }
  checkMatch(f, `${path}.match`, applyTo, match);
  if (present(patch.value)) checkValue(f, `${path}.patch.value`, applyTo, patch.value);
}

export function validateEnvoyFilter(f: Findings, spec: Json): void {
  f.warn(
    EF.INTERNALS,
    "spec",
    "EnvoyFilter patches Envoy's internal configuration, which may change at any upgrade; prefer other APIs. Remora does not apply EnvoyFilter patches",
  );
  if (present(spec.workloadSelector))
    checkSelectorLabels(
      f,
      EF.SELECTOR,
      "spec.workloadSelector",
      "labels",
      asObj(spec.workloadSelector),
      "EnvoyFilter",
    );
  asArr(spec.configPatches).forEach((cp, i) => {
    checkPatch(f, `spec.configPatches[${i}]`, cp);
  });
}
