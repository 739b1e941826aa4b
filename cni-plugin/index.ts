// Public surface of cni-plugin/: the remora-cni plugin's build, the CNI node agent (installer,
// repair loop) and the CNI protocol pieces other folders and tests use. The plugin itself is the
// bundled executable (plugin-main.ts), not an import.
export type { BundleInfo } from "./bundle.ts";
export { buildPluginBundle, PLUGIN_BUNDLE_PATH } from "./bundle.ts";
export type { InstallerOptions, InstallState } from "./installer.ts";
export { CniInstaller, pluginEntry } from "./installer.ts";
export type { PluginOutcome } from "./plugin.ts";
export { runPlugin } from "./plugin.ts";
export type { NodePodCache, NodePodCacheFactory } from "./pod-agent.ts";
export { CODES, SUPPORTED_VERSIONS } from "./protocol.ts";
export type { RepairResult } from "./repair.ts";
export { isBrokenPod, repairPass } from "./repair.ts";
