// The mesh CA's options, shared by `remora pilot` and `remora serve`: the TLS port that carries
// the CSR API (and authenticated xDS), where the CA lives without a cluster, who reviews tokens,
// and certificate lifetimes. Defaults come from pilot/security's SECURITY_DEFAULTS.
import { type Command, InvalidArgumentError, Option } from "commander";
import { SECURITY_DEFAULTS } from "../security/security-defaults.ts";

export interface SecurityCliOptions {
  secureGrpcPort: number;
  caDir?: string;
  tokenReviewKubeconfig?: string;
  workloadCertTtl: number;
  maxWorkloadCertTtl: number;
}

/** Parses `30m`, `24h`, `90d`, `3600s` or a bare number of seconds; returns seconds. */
export function parseTtlSeconds(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new InvalidArgumentError(`"${text}" is not a lifetime; use e.g. 3600s, 30m, 24h or 90d`);
  }
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? "s") as "s" | "m" | "h" | "d"];
  return n * unit;
}

function parsePortAllowingOff(text: string): number {
  if (text === "off") return -1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`"${text}" is not a port (0-65535; 0 picks a free one; off disables)`);
  }
  return n;
}

export function addSecurityOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--secure-grpc-port <port>",
        "TLS port for the CSR API (istio.v1.auth.IstioCertificateService), authenticated ADS with workload certificates over SDS, and the token exchange (POST /token); 0 picks a free port, off disables",
      )
        .argParser(parsePortAllowingOff)
        .default(SECURITY_DEFAULTS.secureGrpcPort),
    )
    .option(
      "--ca-dir <dir>",
      "with --config-dir: the CA directory (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem), used as given or created when empty (default: under the OS temp dir)",
    )
    .option(
      "--token-review-kubeconfig <file>",
      "with --config-dir: kubeconfig of the API server that reviews service-account tokens for the CSR API",
    )
    .addOption(
      new Option(
        "--workload-cert-ttl <duration>",
        "lifetime of workload certificates when a CSR asks for none",
      )
        .argParser(parseTtlSeconds)
        .default(SECURITY_DEFAULTS.workloadCertTtlSeconds, "24h"),
    )
    .addOption(
      new Option("--max-workload-cert-ttl <duration>", "longest lifetime a CSR may ask for")
        .argParser(parseTtlSeconds)
        .default(SECURITY_DEFAULTS.maxCertTtlSeconds, "90d"),
    );
}
