// Test and benchmark support (not used at run time): builds the `remora` CLI into one ESM
// bundle with esbuild (commander inlined, other dependencies external, lazy imports become chunks), so kernel tests
// and the start-up benchmark run `remora iptables` the way a built image runs it, without tsx.
import { chmodSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface CliBundle {
  /** Absolute path of the bundled entry (run it with node). */
  entry: string;
  remove(): void;
}

function externalDeps(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
  return names.filter((n) => n !== "commander").flatMap((n) => [n, `${n}/*`]);
}

/**
 * Bundles pilot/cli/remora.ts under `parent` (default <repo>/.tmp, inside the repo so
 * node_modules resolve; another parent needs a node_modules link, see stageHelpers()).
 */
export async function bundleCli(parent = join(REPO, ".tmp")): Promise<CliBundle> {
  const { build } = await import("esbuild");
  const outdir = join(parent, `remora-cli-${process.pid}-${Date.now()}`);
  await build({
    entryPoints: { remora: join(REPO, "pilot", "cli", "remora.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // commander is bundled (one file to load instead of its CommonJS module tree); every other
    // dependency stays external and resolves from node_modules.
    external: externalDeps(),
    logLevel: "silent",
    // commander is CommonJS: give the ESM bundle a `require` for its node: built-ins.
    banner: {
      js: 'import { createRequire as __remoraCreateRequire } from "node:module"; const require = __remoraCreateRequire(import.meta.url);',
    },
  });
  // Readable by every uid whatever the umask: kernel tests run it as the proxy's uid.
  chmodSync(outdir, 0o755);
  for (const f of readdirSync(outdir)) chmodSync(join(outdir, f), 0o644);
  return { entry: join(outdir, "remora.js"), remove: () => rmSync(outdir, { recursive: true, force: true }) };
}
