// Reads a JSON debug endpoint from pilot with a bounded body and a clear error when pilot is not
// reachable (used by proxy-status and proxy-config).

const MAX_BODY = 64 * 1024 * 1024;

export async function fetchPilotJson(base: string, path: string): Promise<unknown> {
  const url = new URL(path, base.endsWith("/") ? base : `${base}/`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(
      `cannot reach pilot at ${url.origin} (${err instanceof Error ? err.message : String(err)}); is it running? set --pilot or REMORA_PILOT_HTTP`,
    );
  }
  const text = await res.text();
  if (text.length > MAX_BODY) throw new Error(`response from ${url} is larger than ${MAX_BODY} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`pilot at ${url.origin} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const msg = (body as { error?: string }).error ?? text.slice(0, 200);
    throw new Error(msg);
  }
  return body;
}

/** Left-aligned text table, columns separated by two spaces (like istioctl). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
