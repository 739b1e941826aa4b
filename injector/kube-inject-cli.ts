// The file and stream side of `remora kube-inject` / `kube-uninject`: read the input (bounded),
// load the configs, run the pure transformation, write the output atomically, report on stderr.
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { type InjectionConfig, loadInjectionConfig } from "./config.ts";
import { formatReport, kubeInject, kubeUninject } from "./kube-inject.ts";
import { DEFAULT_MAX_DOCUMENT_BYTES } from "./kube-yaml.ts";
import { loadMeshConfig } from "./mesh-config.ts";
import type { InjectMeshConfig } from "./settings.ts";

export interface KubeInjectCliOptions {
  filename: string;
  output?: string;
  meshConfig?: string;
  injectConfig?: string;
  revision?: string;
  cni?: boolean;
  namespace?: string;
}

export async function runKubeInject(mode: "inject" | "uninject", o: KubeInjectCliOptions): Promise<number> {
  const fail = (message: string) => {
    process.stderr.write(`remora kube-${mode}: ${message}\n`);
    return 1;
  };
  let text: string;
  try {
    text = await readInput(o.filename, DEFAULT_MAX_DOCUMENT_BYTES);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  let result: ReturnType<typeof kubeInject>;
  if (mode === "uninject") {
    result = kubeUninject(text);
  } else {
    let config: InjectionConfig;
    if (o.injectConfig) {
      const loaded = loadInjectionConfig(readFileSync(o.injectConfig, "utf8"));
      if (loaded.errors.length) return fail(`${o.injectConfig}:\n  ${loaded.errors.join("\n  ")}`);
      config = loaded.config;
    } else {
      config = (await import("./config.ts")).defaultInjectionConfig();
    }
    if (o.cni) config = { ...config, cni: true };
    let meshConfig: InjectMeshConfig | undefined;
    if (o.meshConfig) {
      const m = loadMeshConfig(readFileSync(o.meshConfig, "utf8"));
      if (typeof m === "string") return fail(`${o.meshConfig}: ${m}`);
      meshConfig = m;
    }
    result = kubeInject(text, {
      config,
      ...(meshConfig ? { meshConfig } : {}),
      ...(o.revision ? { revision: o.revision } : {}),
      ...(o.namespace ? { namespace: o.namespace } : {}),
    });
  }
  process.stderr.write(formatReport(result));
  if (result.exitCode !== 0) return result.exitCode;
  if (o.output && o.output !== "-") {
    const tmp = `${o.output}.tmp-${process.pid}`;
    writeFileSync(tmp, result.output);
    renameSync(tmp, o.output);
  } else {
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(result.output, (err) => (err ? reject(err) : resolve())),
    );
  }
  return 0;
}

async function readInput(filename: string, maxBytes: number): Promise<string> {
  if (filename !== "-") {
    const size = statSync(filename).size;
    if (size > maxBytes) throw new Error(`${filename} is ${size} bytes, over the ${maxBytes}-byte limit`);
    return readFileSync(filename, "utf8");
  }
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
