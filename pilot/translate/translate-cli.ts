// `remora translate` implementation: config dir → snapshot → parseProxy → translate → serving
// gate, printed as one object {listeners, routes, clusters, endpoints, diagnostics} in Envoy's
// proto field names. What is printed is what would be served (resources failing the gate are
// left out and explained in diagnostics).
import { stat } from "node:fs/promises";
import { stringifyKubeYaml } from "../../injector/index.ts";
import { checkProxyConfig } from "../envoy/check.ts";
import { defaultMeshConfig } from "../model/mesh-config.ts";
import { parseProxy } from "../model/parse-proxy.ts";
import { buildSnapshot } from "../snapshot/build-snapshot.ts";
import { loadConfigDir } from "../snapshot/load-files.ts";
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

function metaValue(v: string): unknown {
  if (v.startsWith("{") || v.startsWith("[")) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

/** Runs the command; returns the exit code (0 ok, 2 usage or input error). */
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
    metadata[kv.slice(0, eq)] = metaValue(kv.slice(eq + 1));
  }
  const snapshot = buildSnapshot(await loadConfigDir(opts.configDir, defaultMeshConfig()));
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
  doc.diagnostics = [...snapshot.diagnostics, ...result.diagnostics, ...checked.diagnostics];
  const plain = JSON.parse(JSON.stringify(doc));
  out.write(opts.output === "json" ? `${JSON.stringify(plain, null, 2)}\n` : stringifyKubeYaml(plain));
  return 0;
}
