// Gateway analyzers, after istioctl's gateway package: a selector that matches no pod (IST0101),
// server ports the Services in front of the gateway pods do not expose, by port or targetPort
// (IST0162), credentialName Secrets missing from the gateway's namespace (IST0101) or holding no
// valid certificate (IST0161), Gateways claiming the same host and port on overlapping workloads
// (IST0145, on each of them) and Gateways sharing a certificate (IST0138). Independent of how
// Remora translates Gateways.
import { X509Certificate } from "node:crypto";
import type { ConfigObject } from "../model/config.ts";
import { credentialSecretView, secretCredential } from "../snapshot/credentials.ts";
import { type AnalysisContext, key, selectorText, selects } from "./context.ts";
import type { RawObject } from "./input.ts";

type Gateway = ConfigObject<"Gateway">;

function podsOf(ctx: AnalysisContext, gw: Gateway): RawObject[] {
  const sel = gw.spec.selector ?? {};
  return ctx.raw("Pod", "").filter((p) => selects(sel, p.labels));
}

function reportNoWorkload(ctx: AnalysisContext, gw: Gateway): void {
  ctx.emit(
    "ReferencedResourceNotFound",
    gw,
    "spec.selector",
    `Referenced selector not found: "${selectorText(gw.spec.selector ?? {})}" matches no pod; no gateway workload will serve this Gateway.`,
  );
}

interface ServicePort {
  port?: number;
  targetPort?: number | string;
  protocol?: string;
}

/** IST0101 (no pod) and IST0162 (a server port no Service in front of the pods exposes). */
function checkPorts(ctx: AnalysisContext, gw: Gateway): void {
  const pods = podsOf(ctx, gw);
  if (pods.length === 0) {
    reportNoWorkload(ctx, gw);
    return;
  }
  const targetPorts = new Set<number>();
  const servicePorts = new Set<number>();
  for (const pod of pods) {
    for (const svc of ctx.raw("Service", "")) {
      if (svc.namespace !== pod.namespace) continue;
      const spec = (svc.value.spec ?? {}) as { selector?: Record<string, string>; ports?: ServicePort[] };
      // As Istio's analyzer: a Service without a selector matches every pod of its namespace.
      if (!selects(spec.selector ?? {}, pod.labels)) continue;
      for (const p of spec.ports ?? []) {
        // The API server defaults an unset protocol to TCP.
        if ((p.protocol ?? "TCP") !== "TCP" || typeof p.port !== "number") continue;
        if (typeof p.targetPort === "number" && p.targetPort !== 0) {
          targetPorts.add(p.targetPort);
          servicePorts.add(p.port);
        } else targetPorts.add(p.port);
      }
    }
  }
  (gw.spec.servers ?? []).forEach((s, i) => {
    const n = s.port?.number;
    if (n === undefined || targetPorts.has(n) || servicePorts.has(n)) return;
    ctx.emit(
      "GatewayPortNotDefinedOnService",
      gw,
      `spec.servers[${i}].port.number`,
      `Port ${n} defined in this Gateway is not exposed by the Services in front of its workload (selector ${selectorText(gw.spec.selector ?? {})}); traffic to it never reaches the gateway.`,
    );
  });
}

/**
 * Why a Secret cannot serve as a gateway certificate: snapshot/credentials.ts reads it as pilot serves
 * it (Istio's keys and precedence); on top, as istioctl's analyzer does, the certificate must be valid
 * now.
 */
function secretProblem(secret: RawObject): string | undefined {
  const view = credentialSecretView(secret.value as never);
  const cred = view && secretCredential(view);
  if (!cred?.status.certificate) {
    const found = Object.keys({
      ...((secret.value.data as object) ?? {}),
      ...((secret.value.stringData as object) ?? {}),
    }).sort();
    return cred?.status.problems.length
      ? cred.status.problems.join("; ")
      : `it has neither tls.crt/tls.key nor cert/key (keys found: ${found.join(", ") || "none"})`;
  }
  const leaf = new X509Certificate(cred.certificateChain ?? "");
  const now = Date.now();
  if (now > Date.parse(leaf.validTo) || now < Date.parse(leaf.validFrom))
    return `its certificate is expired or not yet valid (valid ${leaf.validFrom} to ${leaf.validTo})`;
  return undefined;
}

/** IST0101 for a missing credentialName Secret, IST0161 for one without a usable certificate. */
function checkSecrets(ctx: AnalysisContext, gw: Gateway): void {
  const pod = podsOf(ctx, gw)[0];
  if (!pod) {
    reportNoWorkload(ctx, gw);
    return;
  }
  (gw.spec.servers ?? []).forEach((s, i) => {
    const cn = s.tls?.credentialName;
    if (!cn) return;
    const [ns, name] = cn.includes("/") ? (cn.split("/", 2) as [string, string]) : [pod.namespace, cn];
    const secret = ctx.raw("Secret", "").find((x) => x.namespace === ns && x.name === name);
    const path = `spec.servers[${i}].tls.credentialName`;
    if (!secret) {
      ctx.emit(
        "ReferencedResourceNotFound",
        gw,
        path,
        `Referenced credentialName not found: "${cn}"; the gateway pods run in namespace ${pod.namespace}, where the Secret must be.`,
      );
      return;
    }
    const problem = secretProblem(secret);
    if (problem) {
      ctx.emit(
        "InvalidGatewayCredential",
        gw,
        path,
        `The credential Secret ${ns}/${name} of this Gateway is not usable: ${problem}.`,
      );
    }
  });
}

/** IST0145: two Gateways on overlapping workloads serving the same host (and bind) on one port. */
function checkConflicts(ctx: AnalysisContext, gws: readonly Gateway[]): void {
  const pods = ctx.raw("Pod", "");
  const overlap = (a: Gateway, b: Gateway) => {
    const sa = selectorText(a.spec.selector ?? {});
    const sb = selectorText(b.spec.selector ?? {});
    if (sa === sb) return true;
    if (!(sa.includes(sb) || sb.includes(sa))) return false;
    return pods.some(
      (p) => selects(a.spec.selector ?? {}, p.labels) && selects(b.spec.selector ?? {}, p.labels),
    );
  };
  for (const gw of gws) {
    (gw.spec.servers ?? []).forEach((server, i) => {
      const port = server.port?.number;
      const hosts = server.hosts ?? [];
      const others: string[] = [];
      for (const other of gws) {
        if (other === gw || !overlap(gw, other)) continue;
        const clash = (other.spec.servers ?? []).some(
          (o) =>
            o.port?.number === port &&
            (o.bind ?? "") === (server.bind ?? "") &&
            (o.hosts ?? []).some((h) => hosts.includes(h)),
        );
        if (clash) others.push(key(other));
      }
      if (others.length === 0) return;
      ctx.emit(
        "ConflictingGateways",
        gw,
        `spec.servers[${i}]`,
        `Conflict with gateways ${others.sort().join(",")} (workload selector ${selectorText(gw.spec.selector ?? {})}, port ${port}, hosts ${hosts.join(",")}); the older Gateway's server is used for those hosts.`,
      );
    });
  }
}

/** IST0138: Gateways on overlapping workloads that use the same certificate. */
function checkCertificates(ctx: AnalysisContext, gws: readonly Gateway[]): void {
  for (const gw of gws) {
    const sel = gw.spec.selector ?? {};
    for (const other of gws) {
      if (other === gw || !selects(sel, other.spec.selector ?? {})) continue;
      for (const a of gw.spec.servers ?? []) {
        for (const b of other.spec.servers ?? []) {
          if (!a.tls || !b.tls) continue;
          const same =
            a.tls.credentialName && b.tls.credentialName
              ? a.tls.credentialName === b.tls.credentialName
              : !a.tls.credentialName &&
                !b.tls.credentialName &&
                !!a.tls.serverCertificate &&
                a.tls.serverCertificate === b.tls.serverCertificate &&
                !!a.tls.privateKey &&
                a.tls.privateKey === b.tls.privateKey;
          if (same) {
            ctx.emit(
              "GatewayDuplicateCertificate",
              gw,
              "metadata.name",
              `Duplicate certificate in gateways ${key(gw)}, ${key(other)}: clients cannot tell them apart by SNI and may be routed by either.`,
            );
          }
        }
      }
    }
  }
}

export function analyzeGateways(ctx: AnalysisContext): void {
  const gws = ctx.configs("Gateway");
  for (const gw of gws) {
    checkPorts(ctx, gw);
    checkSecrets(ctx, gw);
  }
  checkConflicts(ctx, gws);
  checkCertificates(ctx, gws);
}
