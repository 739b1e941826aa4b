// `remora manifest generate`: options in, YAML out (stdout or a file); problems go to stderr.
import { writeFileSync } from "node:fs";
import {
  generateManifestYaml,
  type ManifestCommandOptions,
  manifestOptionsFrom,
} from "../manifest/render.ts";
import { readFileArg } from "../read-file-arg.ts";

export function runManifestGenerate(opts: Record<string, unknown>): number {
  const { options, problems } = manifestOptionsFrom(opts as ManifestCommandOptions, (p) =>
    readFileArg("--ca-bundle-file", p),
  );
  if (!options) {
    for (const p of problems) process.stderr.write(`remora manifest generate: ${p}\n`);
    return 2;
  }
  const yaml = generateManifestYaml(options);
  const output = opts.output;
  if (typeof output === "string" && output !== "" && output !== "-") writeFileSync(output, yaml);
  else process.stdout.write(yaml);
  return 0;
}
