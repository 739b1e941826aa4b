// Reading a kubeconfig into what one HTTPS request needs: the current context's server, CA,
// client certificate or bearer token. The subset `remora cni install` writes (JSON) plus what
// hand-written kubeconfigs commonly use (YAML, file references, tokenFile). Exec and
// auth-provider plugins are refused with a clear message: the plugin runs on the node with no
// cloud tooling, and running another program per pod would cost more than the whole ADD.
//
// Why not @kubernetes/client-node here: importing it takes about half a second, longer than the
// whole ADD is allowed to take; the plugin only needs GET, PATCH and DELETE of one object.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parseKubeYaml } from "../injector/index.ts";

/** Largest kubeconfig, certificate or token file read. */
export const MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024;

export interface KubeConnection {
  /** e.g. https://10.96.0.1:443 */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** Read for every request, so a rotated token is picked up. */
  tokenFile?: string;
  username?: string;
  password?: string;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
}

export class KubeconfigError extends Error {
  override name = "KubeconfigError";
}

/** Reads at most `max` bytes of a file; a larger file is an error rather than a truncation. */
export function readBounded(path: string, max = MAX_CREDENTIAL_FILE_BYTES): Buffer {
  const fd = openSync(path, "r");
  try {
    // Sized from fstat (grown if the file grows while read), so a small file costs a small buffer.
    let buf = Buffer.allocUnsafe(Math.min(max, fstatSync(fd).size || 4096) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        const next = Buffer.allocUnsafe(Math.min(max + 1, buf.length * 2));
        buf.copy(next, 0, 0, n);
        buf = next;
      }
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > max) throw new KubeconfigError(`${path} is larger than ${max} bytes`);
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function parseText(text: string, path: string): Obj {
  try {
    const v: unknown = JSON.parse(text);
    if (isObj(v)) return v;
  } catch {
    // not JSON: kubeconfigs written by hand are YAML
  }
  const docs = parseKubeYaml(text, { maxBytes: MAX_CREDENTIAL_FILE_BYTES, maxAliases: 20 });
  const doc = docs[0];
  if (!doc || doc.errors.length > 0 || !isObj(doc.value)) {
    throw new KubeconfigError(
      `${path} is not a kubeconfig: ${doc?.errors.join("; ") || "expected a mapping"}`,
    );
  }
  return doc.value;
}

function named(list: unknown, name: string, kind: string, path: string): Obj {
  const found = Array.isArray(list) ? list.find((e) => isObj(e) && e.name === name) : undefined;
  const inner = isObj(found) ? found[kind] : undefined;
  if (!isObj(inner)) throw new KubeconfigError(`${path}: no ${kind} named ${JSON.stringify(name)}`);
  return inner;
}

/** Parses kubeconfig text (JSON or YAML); relative file references resolve against `path`'s folder. */
export function parseKubeconfig(text: string, path: string): KubeConnection {
  const kc = parseText(text, path);
  const dir = dirname(path);
  const file = (p: unknown) =>
    typeof p === "string" && p !== "" ? (isAbsolute(p) ? p : join(dir, p)) : undefined;
  const data = (inline: unknown, ref: unknown, what: string): Buffer | undefined => {
    if (typeof inline === "string" && inline !== "") return Buffer.from(inline, "base64");
    const f = file(ref);
    if (!f) return undefined;
    try {
      return readBounded(f);
    } catch (e) {
      throw new KubeconfigError(`${path}: cannot read ${what} ${f}: ${(e as Error).message}`);
    }
  };
  let contextName = kc["current-context"];
  const contexts = Array.isArray(kc.contexts) ? kc.contexts : [];
  if (typeof contextName !== "string" || contextName === "") {
    if (contexts.length !== 1) throw new KubeconfigError(`${path}: no current-context`);
    contextName = (contexts[0] as Obj).name;
  }
  const context = named(contexts, String(contextName), "context", path);
  const cluster = named(kc.clusters, String(context.cluster), "cluster", path);
  const user = context.user === undefined ? {} : named(kc.users, String(context.user), "user", path);
  if (typeof cluster.server !== "string" || !/^https?:\/\/[^/]/.test(cluster.server)) {
    throw new KubeconfigError(`${path}: cluster ${JSON.stringify(context.cluster)} has no http(s) server`);
  }
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    throw new KubeconfigError(
      `${path}: exec and auth-provider credentials are not supported by remora-cni; use a token or client certificate (remora cni install writes one)`,
    );
  }
  const conn: KubeConnection = {
    server: cluster.server.replace(/\/+$/, ""),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
  };
  const ca = data(
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
    "certificate-authority",
  );
  if (ca) conn.ca = ca;
  if (typeof cluster["tls-server-name"] === "string") conn.tlsServerName = cluster["tls-server-name"];
  const cert = data(user["client-certificate-data"], user["client-certificate"], "client-certificate");
  const key = data(user["client-key-data"], user["client-key"], "client-key");
  if (cert && key) {
    conn.cert = cert;
    conn.key = key;
  }
  if (typeof user.token === "string" && user.token !== "") conn.token = user.token;
  else if (file(user.tokenFile)) conn.tokenFile = file(user.tokenFile) as string;
  if (typeof user.username === "string" && typeof user.password === "string") {
    conn.username = user.username;
    conn.password = user.password;
  }
  return conn;
}

export function loadKubeconfig(path: string): KubeConnection {
  let text: string;
  try {
    text = readBounded(path).toString("utf8");
  } catch (e) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  return parseKubeconfig(text, path);
}
