// Input for tests of the config readers: a small ServiceEntry, a directory tree built to defeat a
// naive reader, and large but valid YAML made of ConfigMaps carrying 6 KB text blobs. Block
// scalars are slow to lex (about 3 s for 12 MB here) yet cheap to hold once parsed, so a read that
// blocks the event loop shows, while the snapshot built from it stays small.
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A STATIC ServiceEntry `<name>.example.com` on port 80 with one endpoint. */
export function serviceEntryYaml(name: string, ip: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.example.com]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: ${ip}}]
`;
}

/**
 * Writes under `dir`: `<top.name>.yaml` and `sub/<sub.name>.yaml` (ServiceEntries), two links back
 * to the root (2^33 paths without loop detection), a second link to `sub` named `again`, and a
 * FIFO `pipe.yaml` (which blocks whoever opens it).
 */
export function writeHostileTree(
  dir: string,
  top: { name: string; ip: string },
  sub: { name: string; ip: string },
): void {
  writeFileSync(join(dir, `${top.name}.yaml`), serviceEntryYaml(top.name, top.ip));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", `${sub.name}.yaml`), serviceEntryYaml(sub.name, sub.ip));
  symlinkSync(".", join(dir, "x"));
  symlinkSync(".", join(dir, "y"));
  symlinkSync("sub", join(dir, "again"));
  execFileSync("mkfifo", [join(dir, "pipe.yaml")]);
}

/** About `mb` megabytes of YAML; `docs` documents. */
export function bigYaml(mb: number): { text: string; docs: number } {
  const line = "x".repeat(100);
  const blob = Array.from({ length: 60 }, () => `    ${line}`).join("\n");
  const docs: string[] = [];
  for (let size = 0; size < mb * 1024 * 1024; ) {
    const d = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${docs.length}, namespace: default}\ndata:\n  blob: |\n${blob}\n`;
    docs.push(d);
    size += d.length;
  }
  return { text: docs.join("---\n"), docs: docs.length };
}
