// Test and benchmark support (not used at run time): builds the `remora` CLI into one ESM
// bundle with esbuild (dependencies stay external, lazy imports become chunks), so kernel tests
// and the start-up benchmark run `remora iptables` the way a built image runs it, without tsx.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface CliBundle {
  /** Absolute path of the bundled entry (run it with node). */
  entry: string;
  remove(): void;
}

/** Bundles pilot/cli/remora.ts under <repo>/.tmp (inside the repo, so node_modules resolve). */
export async function bundleCli(): Promise<CliBundle> {
  const { build } = await import("esbuild");
  const outdir = join(REPO, ".tmp", `remora-cli-${process.pid}-${Date.now()}`);
  await build({
    entryPoints: { remora: join(REPO, "pilot", "cli", "remora.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "silent",
  });
  return { entry: join(outdir, "remora.js"), remove: () => rmSync(outdir, { recursive: true, force: true }) };
}
