// Reads pilot's debug endpoints (JSON, or text for /version) with a bounded body and a clear error
// when pilot is not reachable (used by proxy-status, proxy-config and version).

const MAX_BODY = 64 * 1024 * 1024;

/**
 * `host:port`, `http://host:port` or `https://host:port[/prefix]` (as --pilot or
 * $REMORA_PILOT_HTTP give it) → the base URL, without a trailing slash.
 */
export function pilotBaseUrl(text: string): string {
  const value = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const problem = `pilot address "${text}" is not host:port or http://host:port`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(problem);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "")
    throw new Error(problem);
  return url.toString().replace(/\/$/, "");
}

async function fetchPilot(base: string, path: string): Promise<{ url: URL; res: Response; text: string }> {
  const url = new URL(path, `${pilotBaseUrl(base)}/`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(
      `cannot reach pilot at ${url.origin} (${err instanceof Error ? err.message : String(err)}); is it running? set --pilot or REMORA_PILOT_HTTP`,
    );
  }
  return { url, res, text: await boundedText(res, url) };
}

/** The body as text, refusing (and cancelling) one larger than MAX_BODY without buffering it all. */
async function boundedText(res: Response, url: URL): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel();
      throw new Error(`response from ${url} is larger than ${MAX_BODY} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A plain-text endpoint (e.g. /version). */
export async function fetchPilotText(base: string, path: string): Promise<string> {
  const { url, res, text } = await fetchPilot(base, path);
  if (!res.ok) throw new Error(`pilot at ${url.origin} answered ${res.status} for ${url.pathname}`);
  return text;
}

export async function fetchPilotJson(base: string, path: string): Promise<unknown> {
  const { url, res, text } = await fetchPilot(base, path);
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
