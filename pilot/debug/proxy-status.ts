// `remora proxy-status`: turns /debug/syncz into istioctl's table (NAME, CDS, LDS, EDS, RDS …)
// and, for one proxy, the per-type detail including the last NACK and the rejected resources.
import { fetchPilotJson, table } from "./fetch-json.ts";

interface TypeState {
  status: string;
  sentVersion?: string;
  ackedVersion?: string;
  resources?: number;
  lastError?: { message: string; resources: string[]; sources: string[]; at: string; nonce: string };
}
interface SyncRow {
  proxy: string;
  mode: string;
  snapshotVersion: string;
  connectedAt: string;
  types: Record<string, TypeState>;
}

const COLUMNS: [string, string][] = [
  ["CDS", "cluster"],
  ["LDS", "listener"],
  ["EDS", "endpoint"],
  ["RDS", "route"],
];

function cell(t: TypeState | undefined): string {
  if (!t) return "IGNORED";
  if (t.status === "ERROR") return `ERROR (${t.lastError?.message.slice(0, 40) ?? "NACK"})`;
  return t.status === "NOT_SENT" ? "NOT SENT" : t.status;
}

function shortName(nodeId: string): string {
  return nodeId.split("~")[2] ?? nodeId;
}

export async function proxyStatus(pilot: string, proxy: string | undefined, output: string): Promise<string> {
  const rows = (await fetchPilotJson(pilot, "debug/syncz")) as SyncRow[];
  const selected = proxy
    ? rows.filter(
        (r) =>
          r.proxy === proxy || shortName(r.proxy) === proxy || shortName(r.proxy).split(".")[0] === proxy,
      )
    : rows;
  if (proxy && selected.length === 0) throw new Error(`no connected proxy matches "${proxy}"`);
  if (output === "json") return `${JSON.stringify(selected, null, 2)}\n`;
  if (proxy) {
    const out: string[] = [];
    for (const r of selected) {
      out.push(
        `Proxy:    ${r.proxy}\nStream:   ${r.mode}, connected ${r.connectedAt}\nSnapshot: ${r.snapshotVersion}\n`,
      );
      out.push(
        table(
          ["TYPE", "STATUS", "RESOURCES", "SENT VERSION", "ACKED VERSION"],
          COLUMNS.map(([label, kind]) => {
            const t = r.types[kind];
            return [label, cell(t), String(t?.resources ?? "-"), t?.sentVersion ?? "", t?.ackedVersion ?? ""];
          }),
        ),
      );
      for (const [label, kind] of COLUMNS) {
        const e = r.types[kind]?.lastError;
        if (!e) continue;
        out.push(
          `\n${label} rejected at ${e.at} (nonce ${e.nonce}): ${e.message}\n  resources: ${e.resources.join(", ")}\n` +
            (e.sources.length ? `  from: ${e.sources.join(", ")}\n` : ""),
        );
      }
    }
    return out.join("");
  }
  if (rows.length === 0) return "no proxies connected\n";
  return table(
    ["NAME", "TYPE", ...COLUMNS.map(([l]) => l), "VERSION"],
    rows.map((r) => [
      shortName(r.proxy),
      r.mode,
      ...COLUMNS.map(([, k]) => cell(r.types[k])),
      r.snapshotVersion,
    ]),
  );
}
