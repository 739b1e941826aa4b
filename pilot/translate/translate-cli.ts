// `remora translate` implementation: config dir → snapshot → parseProxy → translate → serving
// gate, printed as one object {listeners, routes, clusters, endpoints, diagnostics} in Envoy's
// proto field names. What is printed is what would be served (resources failing the gate are
// left out and explained in diagnostics).
import { stat } from "node:fs/promises";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import { createFileSource } from "../registry/file/file-source.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { objectsToSnapshotInput } from "../snapshot/objects-input.ts";
import { parseLocality } from "../snapshot/workloads.ts";
import { translate } from "./translate.ts";

export interface TranslateCliOptions {
  configDir: string;
  proxy: string;
  meta: string[];
  locality?: string;
  type: string;
  output: string;
}

interface Writable {
  write(s: string): unknown;
}

const TYPES: Readonly<Record<string, string[]>> = {
  lds: ["listeners"],
  rds: ["routes"],
  cds: ["clusters"],
  eds: ["endpoints"],
  all: ["listeners", "routes", "clusters", "endpoints"],
};

/** Node metadata Istio defines as maps (NodeMetadata): strings would be silently ignored. */
const MAP_KEYS: Readonly<Record<string, "strings" | "object">> = {
  LABELS: "strings",
  ANNOTATIONS: "strings",
  PLATFORM_METADATA: "strings",
  PROXY_CONFIG: "object",
};

/** One `--meta KEY=VALUE` as node metadata, or the problem with it. */
function metaValue(key: string, v: string): { value: unknown } | { error: string } {
  const shape = MAP_KEYS[key];
  if (!shape && !v.startsWith("{") && !v.startsWith("[")) return { value: v };
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (e) {
    return { error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!shape) return { value: parsed };
  const isMap = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed);
  if (
    !isMap ||
    (shape === "strings" && !Object.values(parsed as object).every((x) => typeof x === "string"))
  ) {
    return {
      error:
        shape === "strings"
          ? `${key} must be a JSON object of strings, e.g. ${key}={"app":"reviews","version":"v1"}`
          : `${key} must be a JSON object`,
    };
  }
  return { value: parsed };
}

/** Runs the command; returns the exit code (0 ok, 1 error diagnostics, 2 usage or input error). */
export async function runTranslate(opts: TranslateCliOptions, out: Writable, err: Writable): Promise<number> {
  const kinds = TYPES[opts.type];
  if (!kinds) {
    err.write(
      `remora translate: --type must be one of ${Object.keys(TYPES).join(", ")}, not "${opts.type}"\n`,
    );
    return 2;
  }
  if (opts.output !== "yaml" && opts.output !== "json") {
    err.write(`remora translate: -o must be yaml or json, not "${opts.output}"\n`);
    return 2;
  }
  const dir = await stat(opts.configDir).catch(() => undefined);
  if (!dir?.isDirectory()) {
    err.write(`remora translate: --config-dir ${opts.configDir} is not a directory\n`);
    return 2;
  }
  const metadata: Record<string, unknown> = {};
  for (const kv of opts.meta) {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      err.write(`remora translate: --meta expects KEY=VALUE, got "${kv}"\n`);
      return 2;
    }
    const key = kv.slice(0, eq);
    const v = metaValue(key, kv.slice(eq + 1));
    if ("error" in v) {
      err.write(`remora translate: --meta ${kv}: ${v.error}\n`);
      return 2;
    }
    metadata[key] = v.value;
  }
  // The same reader and per-file rules as `serve --config-dir` (a file with an invalid object is
  // left out and reported), so what is printed is what serve would use.
  const source = createFileSource({ dir: opts.configDir, watch: false, pollMs: 0 });
  await source.rescan();
  const c = source.contents();
  const input = objectsToSnapshotInput(c.objects, defaultMeshConfig(), (i) => c.origins[i] ?? "file");
  const snapshot = buildSnapshot({ ...input, diagnostics: [...c.diagnostics, ...input.diagnostics] });
  const loc = parseLocality(opts.locality);
  const parsed = parseProxy(
    {
      id: opts.proxy,
      metadata,
      ...(opts.locality ? { locality: { region: loc.region, zone: loc.zone, sub_zone: loc.subzone } } : {}),
    },
    snapshot,
  );
  if (!parsed.ok) {
    err.write(`remora translate: ${parsed.error}\n`);
    return 2;
  }
  const result = translate(snapshot, parsed.proxy);
  const checked = checkProxyConfig(result.config);
  const doc: Record<string, unknown> = {};
  for (const k of kinds) doc[k] = checked.ok[k as "listeners"];
  const diagnostics = [...snapshot.diagnostics, ...result.diagnostics, ...checked.diagnostics];
  doc.diagnostics = diagnostics;
  const plain = JSON.parse(JSON.stringify(doc));
  out.write(opts.output === "json" ? `${JSON.stringify(plain, null, 2)}\n` : stringifyKubeYaml(plain));
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  if (errors === 0) return 0;
  err.write(
    `remora translate: ${errors} error diagnostic${errors === 1 ? "" : "s"} (see diagnostics); what they affect is left out of the config above\n`,
  );
  return 1;
}
