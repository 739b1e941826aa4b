// One bounded HTTP(S) GET for the JWKS resolver: a deadline, a body size limit, a few redirects,
// and no connections to link-local or cloud metadata addresses (or operator-blocked ranges),
// checked on the address actually dialled, since a JWKS URI comes from user config and pilot
// runs with cluster credentials next to a metadata server. node:http rather than fetch(): only
// its `lookup` hook lets the resolved address be refused before the connection is made.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";

/** Largest JWKS or discovery document read (real ones are a few KB). */
export const MAX_JWKS_BYTES = 1 << 20;
const MAX_REDIRECTS = 5;

export interface FetchOptions {
  timeoutMs: number;
  maxBytes?: number;
  /** Extra trusted roots (PEM) beside the system ones, for JWKS servers with a private CA. */
  extraCaPem?: string;
  /** CIDRs never dialled, beside link-local and cloud metadata addresses. */
  blocked?: BlockList;
}

/** Link-local ranges (every cloud's metadata service lives there) and known metadata addresses. */
export function blockedAddresses(extraCidrs: readonly string[] = []): BlockList {
  const list = new BlockList();
  list.addSubnet("169.254.0.0", 16, "ipv4");
  list.addSubnet("fe80::", 10, "ipv6");
  list.addAddress("100.100.100.200", "ipv4"); // Alibaba Cloud metadata
  list.addAddress("fd00:ec2::254", "ipv6"); // AWS metadata over IPv6
  for (const cidr of extraCidrs) {
    const [addr, bits] = cidr.split("/");
    const family = isIP(addr ?? "");
    const prefix = Number(bits);
    if (!family || !Number.isInteger(prefix)) throw new Error(`"${cidr}" is not a CIDR (e.g. 10.0.0.0/8)`);
    list.addSubnet(addr as string, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return list;
}

function isBlocked(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (!family) return false;
  // An IPv4-mapped IPv6 address is the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return list.check(mapped[1] as string, "ipv4");
  return list.check(address, family === 6 ? "ipv6" : "ipv4");
}

function guardedLookup(list: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const usable = (addresses as LookupAddress[]).filter((a) => !isBlocked(list, a.address));
      if (usable.length === 0) {
        const first = (addresses as LookupAddress[])[0]?.address ?? hostname;
        return callback(
          Object.assign(
            new Error(
              `connection blocked: ${hostname} resolves to ${first}, a link-local, metadata or blocked address`,
            ),
            {
              code: "EBLOCKED",
            },
          ),
          "",
          4,
        );
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      const a = usable[0] as LookupAddress;
      callback(null, a.address, a.family);
    });
  };
}

function getOnce(url: URL, opts: FetchOptions, deadline: number): Promise<IncomingMessage> {
  const list = opts.blocked ?? blockedAddresses();
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) && isBlocked(list, host)) {
    return Promise.reject(
      new Error(`connection blocked: ${host} is a link-local, metadata or blocked address`),
    );
  }
  const remaining = Math.max(1, deadline - Date.now());
  const https = url.protocol === "https:";
  if (!https && url.protocol !== "http:") {
    return Promise.reject(new Error(`unsupported scheme ${url.protocol} (use http or https)`));
  }
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: "GET",
        headers: { accept: "application/json" },
        lookup: guardedLookup(list),
        signal: AbortSignal.timeout(remaining),
        agent: false,
        ...(https ? { minVersion: "TLSv1.2" as const } : {}),
        ...(https && opts.extraCaPem ? { ca: [...rootCertificates, opts.extraCaPem] } : {}),
      },
      resolve,
    );
    req.on("error", (err: Error) =>
      reject(err.name === "AbortError" ? new Error(`no answer within ${opts.timeoutMs} ms`) : err),
    );
    req.end();
  });
}

function readBody(res: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        res.destroy();
        reject(new Error(`response is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

/** GETs `uri` and returns the body; rejects with a message fit for a diagnostic. */
export async function fetchText(uri: string, opts: FetchOptions): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`"${uri}" is not a URL`);
  }
  for (let hop = 0; ; hop++) {
    const res = await getOnce(url, opts, deadline);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      url = new URL(res.headers.location, url);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new Error(`HTTP ${status} from ${url.href}`);
    }
    return readBody(res, opts.maxBytes ?? MAX_JWKS_BYTES);
  }
}
