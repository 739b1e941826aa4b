// Access logging, placed as istiod places it (pilot/pkg/networking/core/accesslog.go): a file
// access logger on every HTTP connection manager and tcp_proxy of sidecars and gateways, and a
// listener-level one (only for connections that match no filter chain, response flag NR) on
// virtualOutbound, virtualInbound and gateway listeners. What applies comes from Telemetry
// accessLogging (telemetry-scope.ts); without any, from the mesh config's accessLogFile.
// It runs over the finished listeners and copies what it changes: builders stay unaware of it,
// and listeners shared with other translations are never modified.
import { FILTER, T, typed } from "../envoy/builders.ts";
import type { MeshConfig } from "../model/mesh-config.ts";
import type { EnvoyJson } from "../model/proxy-config.ts";
import {
  BUILTIN_ACCESS_LOG_PROVIDER,
  DEV_STDOUT,
  type FileAccessLogProvider,
  ISTIO_JSON_LOG_FORMAT,
  ISTIO_TEXT_LOG_FORMAT,
} from "../model/telemetry.ts";
import { type Ctx, diag } from "./context.ts";
import { VIRTUAL_INBOUND, VIRTUAL_OUTBOUND } from "./names.ts";
import {
  type ApplicableLogging,
  applicableLogging,
  effectiveProviders,
  findProvider,
  type LogMode,
  mergeLogging,
} from "./telemetry-scope.ts";

const FILE_LOGGER = "envoy.access_loggers.file";
const FILE_LOG_TYPE = "envoy.extensions.access_loggers.file.v3.FileAccessLog";
const CEL_FILTER = "envoy.access_loggers.extension_filters.cel";
const CEL_FILTER_TYPE = "envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter";
const REQ_WITHOUT_QUERY: EnvoyJson = {
  name: "envoy.formatter.req_without_query",
  typed_config: typed("envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery"),
};
/** Provider kinds istiod turns into gRPC or OpenTelemetry access-log services: not applied here. */
const SERVICE_LOG_KINDS = ["envoyHttpAls", "envoyTcpAls", "envoyOtelAls"] as const;
/** Chains whose tcp_proxy istiod leaves without a logger (a connection to the capture port itself). */
const UNLOGGED_CHAINS = new Set([`${VIRTUAL_OUTBOUND}-blackhole`, `${VIRTUAL_INBOUND}-blackhole`]);

/** Only connections that matched no filter chain: what the listener-level logger is for. */
const NO_ROUTE_FILTER: EnvoyJson = { response_flag_filter: { flags: ["NR"] } };

/** Envoy's %REQ_WITHOUT_QUERY(...)% needs its formatter extension listed. */
function formatters(commands: string): EnvoyJson {
  return commands.includes("%REQ_WITHOUT_QUERY") ? { formatters: [REQ_WITHOUT_QUERY] } : {};
}

/** Istio appends a newline to text formats that lack one. */
const withNewline = (text: string): string => (text.endsWith("\n") ? text : `${text}\n`);

function textFormat(text: string, omitEmpty: boolean): EnvoyJson {
  const format = text === "" ? ISTIO_TEXT_LOG_FORMAT : withNewline(text);
  return {
    text_format_source: { inline_string: format },
    ...(omitEmpty ? { omit_empty_values: true } : {}),
    ...formatters(format),
  };
}

function jsonFormat(fields: Readonly<Record<string, unknown>>, omitEmpty: boolean): EnvoyJson {
  const commands = Object.values(fields)
    .filter((v): v is string => typeof v === "string")
    .join(" ");
  return {
    json_format: fields,
    json_format_options: { sort_properties: false },
    ...(omitEmpty ? { omit_empty_values: true } : {}),
    ...formatters(commands),
  };
}

function fileLogger(path: string, logFormat: EnvoyJson | undefined): EnvoyJson {
  return {
    name: FILE_LOGGER,
    typed_config: typed(FILE_LOG_TYPE, { path, ...(logFormat ? { log_format: logFormat } : {}) }),
  };
}

/**
 * The logger the mesh config describes (accessLogFormat in accessLogEncoding) writing to `path`:
 * istiod's FileAccessLogFromMeshConfig. A JSON format that does not parse as a JSON object falls
 * back to Istio's default fields, as istiod does, with a diagnostic.
 */
function meshFileLogger(ctx: Ctx, path: string): EnvoyJson {
  const mesh: Readonly<MeshConfig> = ctx.snapshot.meshConfig;
  const encoding = mesh.accessLogEncoding ?? "TEXT";
  const format = mesh.accessLogFormat ?? "";
  if (encoding === "TEXT" || encoding === 0) return fileLogger(path, textFormat(format, false));
  if (encoding === "JSON" || encoding === 1) {
    let fields: Record<string, unknown> = { ...ISTIO_JSON_LOG_FORMAT };
    if (format !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(format);
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
        fields = parsed as Record<string, unknown>;
      else
        diag(ctx, {
          code: "TR0703",
          severity: "warning",
          message:
            "accessLogFormat is not a JSON object, which accessLogEncoding JSON needs; Istio's default JSON fields are logged instead",
          ref: { kind: "MeshConfig", name: "mesh" },
          path: "accessLogFormat",
        });
    }
    return fileLogger(path, jsonFormat(fields, false));
  }
  diag(ctx, {
    code: "TR0703",
    severity: "warning",
    message: `accessLogEncoding ${JSON.stringify(encoding)} is not TEXT or JSON; Envoy's own default format is used (as istiod does)`,
    ref: { kind: "MeshConfig", name: "mesh" },
    path: "accessLogEncoding",
  });
  return fileLogger(path, undefined);
}

/** istiod's fileAccessLogFromTelemetry for an envoyFileAccessLog provider. */
function providerFileLogger(p: FileAccessLogProvider): EnvoyJson {
  const path = p.path || DEV_STDOUT;
  const omit = p.omitEmptyValues === true;
  const f = p.logFormat;
  if (f?.labels !== undefined && f.labels !== null) {
    const fields = Object.keys(f.labels).length > 0 ? f.labels : ISTIO_JSON_LOG_FORMAT;
    return fileLogger(path, jsonFormat(fields, omit));
  }
  return fileLogger(path, textFormat(f?.text ?? "", omit));
}

function withFilter(logger: EnvoyJson, filters: EnvoyJson[]): EnvoyJson {
  if (filters.length === 0) return logger;
  const filter = filters.length === 1 ? filters[0] : { and_filter: { filters } };
  return { name: logger.name, filter, typed_config: logger.typed_config };
}

/** The loggers of one direction: for connection managers and tcp_proxy, and for the listener. */
interface Loggers {
  filters: EnvoyJson[];
  listener: EnvoyJson[];
}

function fromMeshConfig(ctx: Ctx): Loggers {
  const file = ctx.snapshot.meshConfig.accessLogFile ?? "";
  if (file === "") return { filters: [], listener: [] };
  const logger = meshFileLogger(ctx, file);
  return { filters: [logger], listener: [withFilter(logger, [NO_ROUTE_FILTER])] };
}

function fromTelemetry(ctx: Ctx, applicable: ApplicableLogging, mode: LogMode): Loggers | undefined {
  const mesh = ctx.snapshot.meshConfig;
  const merged = mergeLogging(applicable, mesh, mode);
  if (merged === undefined) return undefined;
  const providers = effectiveProviders(mesh);
  const built: { name: string; logger: EnvoyJson; filter?: string }[] = [];
  let configured = 0;
  for (const m of merged) {
    const p = findProvider(providers, m.name);
    if (!p) {
      diag(ctx, {
        code: "TR0701",
        severity: "warning",
        message: `access-log provider ${JSON.stringify(m.name)} is not in the mesh config's extensionProviders (nor Istio's built-in "envoy"); it is skipped`,
        ref: { kind: "MeshConfig", name: "mesh" },
        path: "extensionProviders",
      });
      continue;
    }
    const name = p.name ?? m.name;
    const file = p.envoyFileAccessLog as FileAccessLogProvider | undefined;
    const service = SERVICE_LOG_KINDS.find((k) => p[k] !== undefined && p[k] !== null);
    if (!file && !service) continue; // not a logging provider: istiod skips it too
    configured++;
    if (m.disabled) continue;
    if (service) {
      diag(ctx, {
        code: "TR0704",
        severity: "warning",
        message: `access-log provider ${JSON.stringify(name)} is of kind ${service}, which Remora does not apply yet (only envoyFileAccessLog); no access log is sent to it`,
        ref: { kind: "MeshConfig", name: "mesh" },
        path: "extensionProviders",
      });
      continue;
    }
    const builtinDefault =
      name === BUILTIN_ACCESS_LOG_PROVIDER && !file?.logFormat && file?.omitEmptyValues !== true;
    const logger = builtinDefault
      ? meshFileLogger(ctx, file?.path || DEV_STDOUT)
      : providerFileLogger(file ?? {});
    built.push({ name, logger, ...(m.filter !== undefined ? { filter: m.filter } : {}) });
  }
  // Providers that are configured but all disabled (or not applied) still replace the mesh
  // config's accessLogFile, as in istiod; only none at all falls back to it.
  if (configured === 0) return undefined;
  built.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const cel = (f: string | undefined): EnvoyJson[] =>
    f === undefined
      ? []
      : [{ extension_filter: { name: CEL_FILTER, typed_config: typed(CEL_FILTER_TYPE, { expression: f }) } }];
  return {
    filters: built.map((b) => withFilter(b.logger, cel(b.filter))),
    listener: built.map((b) => withFilter(b.logger, [NO_ROUTE_FILTER, ...cel(b.filter)])),
  };
}

function loggersFor(ctx: Ctx, applicable: ApplicableLogging, mode: LogMode): Loggers {
  const l = fromTelemetry(ctx, applicable, mode) ?? fromMeshConfig(ctx);
  return ctx.snapshot.meshConfig.disableEnvoyListenerLog ? { filters: l.filters, listener: [] } : l;
}

/**
 * The filter with its loggers set (not appended: builders set none, and a listener reused from an
 * earlier translation must not end up with two of each).
 */
function withLogs(filter: EnvoyJson, logs: EnvoyJson[]): EnvoyJson {
  const tc = filter.typed_config as EnvoyJson;
  return { ...filter, typed_config: { ...tc, access_log: logs } };
}

function chainWithLogs(chain: EnvoyJson, logs: EnvoyJson[]): EnvoyJson {
  const filters = chain.filters as EnvoyJson[] | undefined;
  if (!filters || logs.length === 0) return chain;
  const tcpLogged = !UNLOGGED_CHAINS.has(chain.name as string);
  let changed = false;
  const out = filters.map((f) => {
    if (f.name === FILTER.hcm || (f.name === FILTER.tcpProxy && tcpLogged)) {
      const tc = f.typed_config as EnvoyJson | undefined;
      const type = tc?.["@type"] as string | undefined;
      if (type?.endsWith(T.hcm) || type?.endsWith(T.tcpProxy)) {
        changed = true;
        return withLogs(f, logs);
      }
    }
    return f;
  });
  return changed ? { ...chain, filters: out } : chain;
}

/**
 * The listeners with access loggers added where istiod adds them. Proxyless gRPC clients get
 * none (istiod's gRPC generator sets none either). Returns the same array when nothing applies.
 */
export function withAccessLogs(ctx: Ctx, listeners: EnvoyJson[]): EnvoyJson[] {
  if (ctx.proxyless) return listeners;
  const applicable = applicableLogging(ctx);
  const router = ctx.proxy.type === "router";
  const client = loggersFor(ctx, applicable, "CLIENT");
  const server = router ? client : loggersFor(ctx, applicable, "SERVER");
  const none = (l: Loggers) => l.filters.length === 0 && l.listener.length === 0;
  if (none(client) && none(server)) return listeners;
  return listeners.map((l) => {
    const inbound = !router && l.name === VIRTUAL_INBOUND;
    const logs = inbound ? server : client;
    const chains = l.filter_chains as EnvoyJson[] | undefined;
    const next: EnvoyJson = { ...l };
    if (chains) next.filter_chains = chains.map((c) => chainWithLogs(c, logs.filters));
    const listenerLevel = router || l.name === VIRTUAL_INBOUND || l.name === VIRTUAL_OUTBOUND;
    if (listenerLevel && logs.listener.length > 0) next.access_log = logs.listener;
    return next;
  });
}
