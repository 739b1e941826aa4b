// Large but valid YAML for tests of the config readers: ConfigMaps carrying 6 KB text blobs.
// Block scalars are slow to lex (about 3 s for 12 MB here) yet cheap to hold once parsed, so a
// read that blocks the event loop shows, while the snapshot built from it stays small.

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
