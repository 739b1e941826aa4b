// Public surface of config-files/: reading Kubernetes and Istio YAML from files and directories
// safely (regular files only, non-blocking, bounded, loop-free, large files parsed off the event
// loop). Every command and the file source read through here.
export { type ConfigChunk, configChunks } from "./chunks.ts";
export { PARSE_WORKER_HEAP_MB, stopParseWorker } from "./parse-worker-client.ts";
export {
  type FileContents,
  type FileReadResult,
  invalidDocument,
  type ObjectCheck,
  parseConfigText,
  type ReadConfigOptions,
  readConfigFile,
  WORKER_THRESHOLD_BYTES,
} from "./read-config.ts";
export { type ConfigRead, type ExpandedPaths, expandConfigPaths, readConfigPaths } from "./read-paths.ts";
export { readRegularFile } from "./read-regular.ts";
export { type Slicer, timeSlicer } from "./slicer.ts";
export {
  CONFIG_FILE,
  configDirProblem,
  fileStamp,
  identity,
  MAX_TREE_DEPTH,
  scanConfigTree,
  type TreeFile,
  type TreeScan,
} from "./walk.ts";
