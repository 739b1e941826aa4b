// `--ca-dir DIR`: the CA kept in a directory in Istio's `cacerts` layout, for pilots without a
// cluster. Files present are used as given (a plugged-in CA, e.g. shared by two meshes); an empty
// or missing directory gets a new self-signed root. A half-filled directory is an error, never
// overwritten: the key may be somebody's only copy.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CA_FILES, type CaBundle, checkBundle, selfSignedBundle } from "./ca.ts";

/** Where a pilot without --ca-dir keeps its CA (stable across restarts of the same machine). */
export function defaultCaDir(trustDomain: string): string {
  return join(tmpdir(), `remora-ca-${trustDomain.replace(/[^a-zA-Z0-9.-]/g, "_")}`);
}

export interface LoadedCa {
  bundle: CaBundle;
  /** True when this call created the root. */
  created: boolean;
  dir: string;
}

const MAX_PEM_BYTES = 1024 * 1024;

function readPem(dir: string, file: string): string {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  if (text.length > MAX_PEM_BYTES) throw new Error(`${path} is larger than 1 MiB; it is not a PEM bundle`);
  return text;
}

export function loadOrCreateCaDir(dir: string, organization: string): LoadedCa {
  const present = Object.values(CA_FILES).filter((f) => existsSync(join(dir, f)));
  if (present.length === 0) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const bundle = selfSignedBundle({ organization });
    writeFileSync(join(dir, CA_FILES.caKey), bundle.caKeyPem, { mode: 0o600, flag: "wx" });
    writeFileSync(join(dir, CA_FILES.caCert), bundle.caCertPem, { mode: 0o644, flag: "wx" });
    writeFileSync(join(dir, CA_FILES.certChain), bundle.certChainPem, { mode: 0o644, flag: "wx" });
    writeFileSync(join(dir, CA_FILES.rootCert), bundle.rootCertPem, { mode: 0o644, flag: "wx" });
    return { bundle, created: true, dir };
  }
  for (const required of [CA_FILES.caCert, CA_FILES.caKey]) {
    if (!present.includes(required)) {
      throw new Error(
        `CA directory ${dir} has ${present.join(", ")} but no ${required}; put the plugged-in CA's ${CA_FILES.caCert}, ${CA_FILES.caKey}, ${CA_FILES.rootCert} and ${CA_FILES.certChain} there, or point --ca-dir at an empty directory to create a new root`,
      );
    }
  }
  const caCertPem = readPem(dir, CA_FILES.caCert);
  // Without root-cert.pem the signing certificate must be its own root (a self-signed CA).
  const rootCertPem = present.includes(CA_FILES.rootCert) ? readPem(dir, CA_FILES.rootCert) : caCertPem;
  const bundle: CaBundle = {
    caCertPem,
    caKeyPem: readPem(dir, CA_FILES.caKey),
    certChainPem: present.includes(CA_FILES.certChain) ? readPem(dir, CA_FILES.certChain) : caCertPem,
    rootCertPem,
  };
  const problems = checkBundle(bundle);
  if (problems.length > 0) throw new Error(`CA directory ${dir} is not usable: ${problems.join("; ")}`);
  return { bundle, created: false, dir };
}
