// Registers `remora translate`: prints the Envoy config one proxy would get from a directory of
// Kubernetes/Istio YAML, offline, through the same translate() the xDS server serves from.
import type { Command } from "commander";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerTranslateCommand(program: Command): void {
  program
    .command("translate")
    .description(
      "print the Envoy config (listeners, routes, clusters, endpoints) for one proxy, offline; exit 1 when a diagnostic is an error",
    )
    .requiredOption("--config-dir <dir>", "directory of Kubernetes and Istio YAML (read recursively)")
    .requiredOption(
      "--proxy <node-id>",
      "Envoy node id, e.g. sidecar~10.0.0.5~productpage-v1-x.default~default.svc.cluster.local",
    )
    .option(
      "--meta <key=value>",
      'node metadata (repeatable), e.g. GENERATOR=grpc, LABELS={"app":"x"}',
      collect,
      [],
    )
    .option("--locality <region/zone/subzone>", "node locality")
    .option("--type <type>", "lds, rds, cds, eds or all", "all")
    .option("-o, --output <format>", "yaml or json", "yaml")
    .action(
      async (opts: {
        configDir: string;
        proxy: string;
        meta: string[];
        locality?: string;
        type: string;
        output: string;
      }) => {
        const { runTranslate } = await import("../translate/translate-cli.ts");
        process.exitCode = await runTranslate(opts, process.stdout, process.stderr);
      },
    );
}
