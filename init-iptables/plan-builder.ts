// The rule builder shared by the planner's parts: v4 and v6 lists filled side by side, as in
// Istio's builder, plus the chain names and constants the parts share.
import type { Rule, Table } from "./rules.ts";

export const INBOUND = "ISTIO_INBOUND";
export const REDIRECT = "ISTIO_REDIRECT";
export const IN_REDIRECT = "ISTIO_IN_REDIRECT";
export const OUTPUT = "ISTIO_OUTPUT";
export const OUTPUT_DNS = "ISTIO_OUTPUT_DNS";
export const DIVERT = "ISTIO_DIVERT";
export const TPROXY = "ISTIO_TPROXY";
export const DROP = "ISTIO_DROP";
/** Mark Envoy's outbound-to-own-pod packets carry in TPROXY mode. */
export const OUTBOUND_MARK = "1338";
export const DNS_PORT = "15053";

/** Collects v4 and v6 rules side by side, as Istio's builder does. */
export class Builder {
  readonly v4: Rule[] = [];
  readonly v6: Rule[] = [];
  constructor(private readonly ipv6: boolean) {}
  a4(table: Table, chain: string, ...args: string[]): void {
    this.v4.push({ table, chain, args });
  }
  a6(table: Table, chain: string, ...args: string[]): void {
    if (this.ipv6) this.v6.push({ table, chain, args });
  }
  a(table: Table, chain: string, ...args: string[]): void {
    this.a4(table, chain, ...args);
    this.a6(table, chain, ...args);
  }
  /** Appends with a family-specific address substituted for `@`. */
  av(v4: string, v6: string, table: Table, chain: string, ...args: string[]): void {
    this.a4(table, chain, ...args.map((x) => (x === "@" ? v4 : x)));
    this.a6(table, chain, ...args.map((x) => (x === "@" ? v6 : x)));
  }
  i4(table: Table, chain: string, pos: number, ...args: string[]): void {
    this.v4.push({ table, chain, insertAt: pos, args });
  }
  i6(table: Table, chain: string, pos: number, ...args: string[]): void {
    if (this.ipv6) this.v6.push({ table, chain, insertAt: pos, args });
  }
  i(table: Table, chain: string, pos: number, ...args: string[]): void {
    this.i4(table, chain, pos, ...args);
    this.i6(table, chain, pos, ...args);
  }
}
