// Public surface of pilot/vm: `remora vm bootstrap` (what a VM needs to join the mesh with stock Envoy).
export { systemdArg, systemdUnit } from "./systemd.ts";
export {
  groupFromFile,
  VmBootstrapError,
  type VmBootstrapOptions,
  type VmBootstrapResult,
  vmBootstrap,
} from "./vm-bootstrap.ts";
export { type VmFile, type VmFilesInput, vmFiles } from "./vm-files.ts";
export { VM_PATHS } from "./vm-paths.ts";
