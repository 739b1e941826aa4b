// The node's CNI config directory as data: which file is the primary network (the one the
// kubelet's runtime loads: the first valid .conf/.conflist/.json in name order, or a configured
// name), and that file with Remora's entry added or removed. A .conflist gets any older Remora
// entry dropped and the new one appended; a single-plugin .conf/.json is wrapped into a list named
// .conflist. Pure functions: reading, writing and watching live in the installer.
import { PLUGIN_TYPE } from "./net-config.ts";

export const CONFIG_EXTENSIONS = [".conflist", ".conf", ".json"] as const;

type Json = Record<string, unknown>;

export interface ConfigFile {
  name: string;
  text: string;
}

export interface PrimaryConfig {
  name: string;
  value: Json;
  isList: boolean;
}

export interface Pick {
  primary?: PrimaryConfig;
  /** Files passed over, with the reason (invalid JSON, no plugins, …). */
  skipped: { name: string; reason: string }[];
}

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export function isConfigName(name: string): boolean {
  return !name.startsWith(".") && CONFIG_EXTENSIONS.some((e) => name.endsWith(e));
}

/** Why a file cannot be the primary network, or undefined when it can. */
function problem(name: string, value: unknown): string | undefined {
  if (!isObj(value)) return "not a JSON object";
  if (name.endsWith(".conflist")) {
    if (!Array.isArray(value.plugins) || value.plugins.length === 0) return 'no "plugins" list';
    if (!value.plugins.every((p) => isObj(p) && typeof p.type === "string"))
      return 'a plugin without a "type"';
    // A list holding nothing but Remora is not a primary network (left behind by an old install).
    if (value.plugins.every((p) => (p as Json).type === PLUGIN_TYPE)) return "holds only remora-cni";
    return undefined;
  }
  if (typeof value.type !== "string") return 'no plugin "type"';
  return undefined;
}

/** The primary config among the directory's files (`confName` forces one), as the runtime picks it. */
export function pickPrimary(files: readonly ConfigFile[], confName = ""): Pick {
  const skipped: Pick["skipped"] = [];
  const candidates = [...files]
    .filter((f) => isConfigName(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const f of candidates) {
    if (confName !== "" && f.name !== confName) continue;
    let value: unknown;
    try {
      value = JSON.parse(f.text);
    } catch (e) {
      skipped.push({ name: f.name, reason: `invalid JSON: ${(e as Error).message}` });
      continue;
    }
    const why = problem(f.name, value);
    if (why) {
      skipped.push({ name: f.name, reason: why });
      continue;
    }
    return { primary: { name: f.name, value: value as Json, isList: f.name.endsWith(".conflist") }, skipped };
  }
  return { skipped };
}

export function isRemoraEntry(p: unknown): boolean {
  return isObj(p) && p.type === PLUGIN_TYPE;
}

/** The primary with Remora's entry last (replacing older ones); `name` changes when a .conf is wrapped. */
export function withEntry(primary: PrimaryConfig, entry: Json): { name: string; value: Json } {
  if (primary.isList) {
    const plugins = (primary.value.plugins as unknown[]).filter((p) => !isRemoraEntry(p));
    return { name: primary.name, value: { ...primary.value, plugins: [...plugins, entry] } };
  }
  const conf = primary.value;
  const base = primary.name.replace(/\.(conf|json)$/, "");
  return {
    name: `${base}.conflist`,
    value: {
      cniVersion: typeof conf.cniVersion === "string" ? conf.cniVersion : "0.3.1",
      name: typeof conf.name === "string" ? conf.name : "k8s-pod-network",
      plugins: [conf, entry],
    },
  };
}

/**
 * A list without Remora's entries; undefined when it has none, or nothing else (emptying such a
 * list would leave an invalid config; it is not a network the runtime uses either way).
 */
export function withoutEntry(value: unknown): Json | undefined {
  if (!isObj(value) || !Array.isArray(value.plugins) || !value.plugins.some(isRemoraEntry)) return undefined;
  if (value.plugins.every(isRemoraEntry)) return undefined;
  return { ...value, plugins: value.plugins.filter((p) => !isRemoraEntry(p)) };
}

/** How config files are written: two-space JSON, keys in their original order, newline at the end. */
export function renderConfig(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
