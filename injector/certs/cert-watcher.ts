// Serving certificate files (mounted by cert-manager, a Secret, or written by the self-signed
// generator) and their reload. Kubernetes updates secret mounts by swapping a `..data` symlink,
// so the directories are watched rather than the files; a reload only takes effect when the key
// and certificate read back as a matching pair, so a half-finished update is never served.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The CA bundle when a CA file is configured (for the webhook's caBundle). */
  ca?: string;
  /** SHA-256 fingerprint of the leaf certificate. */
  fingerprint: string;
  notAfter: Date;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

/** Reads and checks a cert/key pair; throws a readable error when they are missing or don't match. */
export function loadTlsFiles(files: TlsFiles): TlsMaterial {
  const cert = readFileSync(files.certFile, "utf8");
  const key = readFileSync(files.keyFile, "utf8");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${files.certFile} does not hold a PEM certificate: ${(err as Error).message}`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${files.keyFile} does not hold a PEM private key: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Error(`${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  }
  const material: TlsMaterial = {
    cert,
    key,
    fingerprint: x509.fingerprint256,
    notAfter: new Date(x509.validTo),
  };
  if (files.caFile) material.ca = readFileSync(files.caFile, "utf8");
  return material;
}

export interface CertWatcherOptions extends TlsFiles {
  onReload: (material: TlsMaterial) => void;
  onError?: (err: Error) => void;
  /** Quiet time after the last file event before reading (default 100 ms). */
  debounceMs?: number;
  /** Backstop re-read interval in case a file event is missed (default 10 s; 0 disables). */
  pollMs?: number;
}

/** Watches the files of a loaded pair and reports each new valid pair once. */
export class CertWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;
  current: TlsMaterial;

  constructor(
    private readonly options: CertWatcherOptions,
    initial?: TlsMaterial,
  ) {
    this.current = initial ?? loadTlsFiles(options);
  }

  start(): this {
    const dirs = new Set([dirname(this.options.certFile), dirname(this.options.keyFile)]);
    if (this.options.caFile) dirs.add(dirname(this.options.caFile));
    for (const dir of dirs) {
      const w = watch(dir, { persistent: false }, () => this.schedule());
      w.on("error", (err) => this.options.onError?.(err));
      this.watchers.push(w);
    }
    const pollMs = this.options.pollMs ?? 10_000;
    if (pollMs > 0) {
      this.poll = setInterval(() => this.check(), pollMs);
      this.poll.unref();
    }
    return this;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.options.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Re-reads the files now; returns true when a new pair was loaded. */
  check(): boolean {
    if (this.closed) return false;
    let next: TlsMaterial;
    try {
      next = loadTlsFiles(this.options);
    } catch (err) {
      // Typically the writer is between the key and the cert: keep serving the old pair.
      this.options.onError?.(err as Error);
      return false;
    }
    if (
      next.fingerprint === this.current.fingerprint &&
      next.key === this.current.key &&
      next.ca === this.current.ca
    ) {
      return false;
    }
    this.current = next;
    this.options.onReload(next);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
