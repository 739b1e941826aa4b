// The self-signed mode: when no certificate is mounted, create a CA and a serving certificate in a
// directory (reusing them on restart while they stay valid) and hand back the file paths, so the
// rest of the server treats them like any mounted pair.

import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { controlPlaneNames, DEFAULT_NAMESPACE } from "../defaults.ts";
import { loadTlsFiles, type TlsFiles } from "./cert-watcher.ts";
import { generateCa, generateServingCert, serviceDnsNames, verifyIssuedBy } from "./generate.ts";

export interface SelfSignedOptions {
  dir: string;
  namespace?: string;
  service?: string;
  /** Extra names (e.g. `localhost`) and IPs the certificate must cover. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Regenerate when the serving certificate expires within this many days (default 30). */
  renewBeforeDays?: number;
}

export interface SelfSignedResult extends Required<TlsFiles> {
  /** True when new files were written, false when valid ones were reused. */
  generated: boolean;
}

/** Writes a file atomically (temp file + rename) so a watcher never reads half of it. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

export function ensureSelfSignedTls(options: SelfSignedOptions): SelfSignedResult {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const service = options.service ?? controlPlaneNames().injectorService;
  const files = {
    certFile: join(options.dir, "tls.crt"),
    keyFile: join(options.dir, "tls.key"),
    caFile: join(options.dir, "ca.crt"),
  };
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  if (existsSync(files.certFile) && existsSync(files.keyFile) && existsSync(files.caFile)) {
    try {
      const m = loadTlsFiles(files);
      const renewBy = Date.now() + (options.renewBeforeDays ?? 30) * 86_400_000;
      if (m.notAfter.getTime() > renewBy && m.ca && verifyIssuedBy(m.cert, m.ca)) {
        return { ...files, generated: false };
      }
    } catch {
      // Unreadable or mismatched: regenerate below.
    }
  }
  const ca = generateCa({ commonName: `${service}.${namespace}.svc CA` });
  const dnsNames = [...serviceDnsNames(service, namespace), ...(options.dnsNames ?? [])];
  const serving = generateServingCert({ ca, dnsNames, ipAddresses: options.ipAddresses ?? [] });
  writeFileAtomic(files.caFile, ca.certPem, 0o644);
  writeFileAtomic(files.keyFile, serving.keyPem);
  writeFileAtomic(files.certFile, serving.certPem, 0o644);
  return { ...files, generated: true };
}
