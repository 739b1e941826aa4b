// networking.istio.io ProxyConfig rules, after istiod's ValidateProxyConfig: the selector and a
// non-negative concurrency (0 means one worker per core).
import { asNum, type Findings, type Json } from "./findings.ts";
import { checkPolicyScope } from "./security.ts";

export const PC = { SELECTOR: "PC0001", CONCURRENCY: "PC0002" } as const;

export function validateProxyConfig(f: Findings, spec: Json): void {
  checkPolicyScope(f, PC.SELECTOR, spec);
  const c = asNum(spec.concurrency);
  if (c !== undefined && c < 0)
    f.error(PC.CONCURRENCY, "spec.concurrency", `concurrency ${c} must be 0 (one worker per core) or more`);
}
