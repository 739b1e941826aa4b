// Reading Istio's MeshConfig for the injector: the bare YAML (the `mesh` key of the `istio`
// ConfigMap) or the ConfigMap itself. Only the fields injection uses are checked.
import { isObject } from "./config.ts";
import { CONFIG_MAP_KEYS } from "./defaults.ts";
import { parseKubeYaml } from "./kube-yaml.ts";
import type { InjectMeshConfig } from "./settings.ts";

/** Reads Istio's MeshConfig (bare, or the `istio` ConfigMap holding it under data.mesh). */
export function loadMeshConfig(text: string): InjectMeshConfig | string {
  const docs = parseKubeYaml(text, { maxBytes: 1024 * 1024 });
  const doc = docs.find((d) => d.errors.length > 0 || (d.value !== undefined && d.value !== null));
  if (!doc) return "empty mesh config";
  if (doc.errors.length) return doc.errors.join("; ");
  const v = doc.value;
  if (isObject(v) && v.kind === "ConfigMap") {
    const data = isObject(v.data) ? v.data : {};
    const mesh = data[CONFIG_MAP_KEYS.mesh];
    if (typeof mesh !== "string") return `ConfigMap has no data.${CONFIG_MAP_KEYS.mesh}`;
    return loadMeshConfig(mesh);
  }
  if (!isObject(v)) return "the mesh config must be a mapping";
  const out: InjectMeshConfig = {};
  if (v.trustDomain !== undefined) {
    if (typeof v.trustDomain !== "string") return "trustDomain: expected a string";
    out.trustDomain = v.trustDomain;
  }
  if (v.defaultConfig !== undefined) {
    if (!isObject(v.defaultConfig)) return "defaultConfig: expected a mapping";
    out.defaultConfig = v.defaultConfig;
  }
  return out;
}
