// Public surface of injector/: what other folders may import.
export type { KubeYamlLimits, YamlDocument } from "./kube-yaml.ts";
export {
  DEFAULT_MAX_ALIASES,
  DEFAULT_MAX_DOCUMENT_BYTES,
  KUBE_PARSE_OPTIONS,
  KUBE_STRINGIFY_OPTIONS,
  KubeYamlError,
  parseKubeYaml,
  stringifyKubeYaml,
} from "./kube-yaml.ts";
