// The file and stream side of `remora kube-inject` / `kube-uninject`: read the input (bounded),
// load the configs (files, or the control plane's ConfigMap from a cluster as istioctl does),
// run the pure transformation, write the output atomically, report on stderr. Exit codes: 2 for
// a wrong command line (no such file, a directory), 1 for anything else that failed.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { type InjectionConfig, isObject, loadInjectionConfig } from "./config.ts";
import { CONFIG_MAP_KEYS, controlPlaneNames, DEFAULT_NAMESPACE } from "./defaults.ts";
import { formatReport, kubeInject, kubeUninject } from "./kube-inject.ts";
import { DEFAULT_MAX_DOCUMENT_BYTES, parseKubeYaml } from "./kube-yaml.ts";
import { loadMeshConfig } from "./mesh-config.ts";
import { describeFsError, FileArgError, readFileArg } from "./read-file-arg.ts";
import type { InjectMeshConfig } from "./settings.ts";

export interface KubeInjectCliOptions {
  filename: string;
  output?: string;
  meshConfig?: string;
  injectConfig?: string;
  revision?: string;
  cni?: boolean;
  namespace?: string;
  /** Read the injection and mesh config the cluster's control plane uses. */
  kubeconfig?: string;
  controlPlaneNamespace?: string;
  configMap?: string;
}

class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2,
  ) {
    super(message);
  }
}

export async function runKubeInject(mode: "inject" | "uninject", o: KubeInjectCliOptions): Promise<number> {
  try {
    return await run(mode, o);
  } catch (err) {
    const code = err instanceof CliFailure ? err.code : err instanceof FileArgError && err.usage ? 2 : 1;
    process.stderr.write(`remora kube-${mode}: ${err instanceof Error ? err.message : String(err)}\n`);
    return code;
  }
}

async function run(mode: "inject" | "uninject", o: KubeInjectCliOptions): Promise<number> {
  const text =
    o.filename === "-"
      ? await readStdin(DEFAULT_MAX_DOCUMENT_BYTES)
      : readFileArg("-f", o.filename, DEFAULT_MAX_DOCUMENT_BYTES);
  let result: ReturnType<typeof kubeInject>;
  if (mode === "uninject") {
    result = kubeUninject(text);
  } else {
    const { config, meshConfig } = await loadConfigs(o);
    result = kubeInject(text, {
      config: o.cni ? { ...config, cni: true } : config,
      ...(meshConfig ? { meshConfig } : {}),
      ...(o.revision ? { revision: o.revision } : {}),
      ...(o.namespace ? { namespace: o.namespace } : {}),
    });
  }
  process.stderr.write(formatReport(result));
  if (result.exitCode !== 0) return result.exitCode;
  if (o.output && o.output !== "-") writeAtomically(o.output, result.output);
  else {
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(result.output, (err) => (err ? reject(err) : resolve())),
    );
  }
  return 0;
}

/**
 * Injection and mesh config: each from its file flag, else (for --inject-config given as the
 * control plane's ConfigMap) the same file's other key, else the cluster's ConfigMap with
 * --kubeconfig, else the defaults.
 */
async function loadConfigs(
  o: KubeInjectCliOptions,
): Promise<{ config: InjectionConfig; meshConfig?: InjectMeshConfig }> {
  let injectText: { text: string; from: string } | undefined;
  let meshText: { text: string; from: string } | undefined;
  if (o.injectConfig) {
    const text = readFileArg("--inject-config", o.injectConfig);
    injectText = { text, from: `--inject-config ${o.injectConfig}` };
    const mesh = configMapData(text)?.[CONFIG_MAP_KEYS.mesh];
    if (typeof mesh === "string")
      meshText = { text: mesh, from: `--inject-config ${o.injectConfig} (data.mesh)` };
  }
  if (o.meshConfig)
    meshText = { text: readFileArg("--mesh-config", o.meshConfig), from: `--mesh-config ${o.meshConfig}` };
  if (o.kubeconfig && (!injectText || !meshText)) {
    const ns = o.controlPlaneNamespace ?? DEFAULT_NAMESPACE;
    const name = o.configMap ?? controlPlaneNames(o.revision).configMap;
    const data = await readClusterConfigMap(o.kubeconfig, ns, name, o.revision);
    const where = `ConfigMap ${ns}/${name}`;
    const inj = data[CONFIG_MAP_KEYS.injection];
    const mesh = data[CONFIG_MAP_KEYS.mesh];
    if (!injectText && typeof inj === "string") injectText = { text: inj, from: `${where} (data.injection)` };
    if (!meshText && typeof mesh === "string") meshText = { text: mesh, from: `${where} (data.mesh)` };
  }
  let config: InjectionConfig;
  if (injectText) {
    const loaded = loadInjectionConfig(injectText.text);
    if (loaded.errors.length) throw new CliFailure(`${injectText.from}:\n  ${loaded.errors.join("\n  ")}`, 1);
    config = loaded.config;
  } else {
    config = (await import("./config.ts")).defaultInjectionConfig();
  }
  let meshConfig: InjectMeshConfig | undefined;
  if (meshText) {
    const m = loadMeshConfig(meshText.text);
    if (typeof m === "string") throw new CliFailure(`${meshText.from}: ${m}`, 1);
    meshConfig = m;
  }
  return meshConfig ? { config, meshConfig } : { config };
}

/** `data` of a ConfigMap document, or undefined when the text is not one. */
function configMapData(text: string): Record<string, unknown> | undefined {
  try {
    const doc = parseKubeYaml(text, { maxBytes: 1024 * 1024 }).find(
      (d) => d.value !== undefined && d.value !== null,
    );
    const v = doc?.value;
    return isObject(v) && v.kind === "ConfigMap" && isObject(v.data) ? v.data : undefined;
  } catch {
    return undefined;
  }
}

async function readClusterConfigMap(
  kubeconfig: string,
  namespace: string,
  name: string,
  revision: string | undefined,
): Promise<Record<string, unknown>> {
  const { KubeClient } = await import("./server/kube-client.ts");
  const where = `ConfigMap ${namespace}/${name}`;
  let client: Awaited<ReturnType<typeof KubeClient.load>>;
  try {
    readFileArg("--kubeconfig", kubeconfig);
    client = await KubeClient.load(kubeconfig);
  } catch (err) {
    if (err instanceof FileArgError) throw err;
    throw new CliFailure(`--kubeconfig ${kubeconfig}: ${(err as Error).message}`, 1);
  }
  if (!client) throw new CliFailure(`--kubeconfig ${kubeconfig}: no cluster in it`, 1);
  let r: Awaited<ReturnType<typeof client.request>>;
  try {
    r = await client.request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
    );
  } catch (err) {
    throw new CliFailure(`cannot read ${where} from the cluster: ${(err as Error).message}`, 1);
  }
  if (r.status === 404) {
    const rev = revision && revision !== "default" ? ` for revision ${revision}` : "";
    throw new CliFailure(
      `${where} not found in the cluster: is Remora${rev} installed there? (-i sets the control-plane namespace, --config-map the name)`,
      1,
    );
  }
  if (r.status !== 200) throw new CliFailure(`cannot read ${where} from the cluster: HTTP ${r.status}`, 1);
  const data = (r.body as { data?: unknown }).data;
  return isObject(data) ? data : {};
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const d = describeFsError(err);
    throw new CliFailure(`-o ${path}: ${d.text}`, d.usage ? 2 : 1);
  }
}

async function readStdin(maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > maxBytes) throw new Error(`stdin is over the ${maxBytes}-byte limit`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}
