// Rules and matches of a VirtualService that can never be used, as istiod's webhook reports them
// (warnings; `istioctl analyze` shows them as IST0130 and IST0131): a rule after a rule without
// matches, a match equal to an earlier one (names aside), and an HTTP prefix match that an
// earlier prefix match on the same method, authority, port, headers and query parameters
// already covers. Istio's own quirk is kept: a prefix match without a method counts as GET.
import { asArr, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { VS } from "./virtual-service-codes.ts";

/** A match with empty values and names dropped and keys sorted, for equality (as Go's JSON omits zero values). */
function canonical(v: unknown, dropName: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => canonical(x, false));
  if (v && typeof v === "object") {
    const out: Json = {};
    for (const k of Object.keys(v).sort()) {
      if (dropName && k === "name") continue;
      const x = canonical((v as Json)[k], false);
      const empty =
        x === undefined ||
        x === null ||
        x === false ||
        x === 0 ||
        x === "" ||
        (Array.isArray(x) && x.length === 0) ||
        (typeof x === "object" && !Array.isArray(x) && Object.keys(x as object).length === 0);
      if (!empty) out[k] = x;
    }
    return out;
  }
  return v;
}

const exactOrPrefix = (m: unknown): string => {
  const o = asObj(m);
  if (asStr(o.exact)) return `exact:${o.exact}`;
  if (asStr(o.prefix)) return `prefix:${o.prefix}`;
  return "";
};

interface PrefixMatch {
  route: string;
  match: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  maps: Array<Record<string, string>>;
}

function prefixMatch(m: Json, route: string, match: string): PrefixMatch | undefined {
  const prefix = asStr(asObj(m.uri).prefix) ?? "";
  if (prefix === "") return undefined;
  const map = (v: unknown) =>
    Object.fromEntries(Object.entries(asObj(v)).map(([k, x]) => [k, exactOrPrefix(x)]));
  return {
    route,
    match,
    prefix,
    port: typeof m.port === "number" ? m.port : 0,
    method: exactOrPrefix(m.method) || "exact:GET",
    authority: exactOrPrefix(m.authority),
    maps: [map(m.headers), map(m.queryParams), map(m.withoutHeaders)],
  };
}

/** True when every request `b` matches is matched by the earlier `a` (istiod's coveredValidation). */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return a.maps.every((am, i) => {
    const bm = b.maps[i] as Record<string, string>;
    if (Object.keys(am).length !== Object.keys(bm).length) return false;
    return Object.entries(am).every(([k, v]) => k in bm && (v === bm[k] || v.startsWith(bm[k] as string)));
  });
}

function checkRoutes(f: Findings, kind: "http" | "tcp" | "tls", routes: unknown[]): void {
  const seen = new Map<string, number>();
  let catchAll = -1;
  const prefixes: PrefixMatch[] = [];
  const name = (r: unknown, i: number) => {
    const n = kind === "http" ? asStr(asObj(r).name) : undefined;
    return n ? JSON.stringify(n) : `#${i}`;
  };
  const unreachable = (i: number, r: unknown, why: string) =>
    f.warn(VS.UNREACHABLE_RULE, `spec.${kind}[${i}]`, `rule ${name(r, i)} is never used (${why})`);
  const ineffective = (i: number, j: number, what: string, earlier: string) =>
    f.warn(
      VS.INEFFECTIVE_MATCH,
      `spec.${kind}[${i}].match[${j}]`,
      `rule ${what} is never used (duplicate or overlapping match in rule ${earlier})`,
    );
  routes.forEach((r, i) => {
    if (r === null || r === undefined) return;
    const matches = asArr(asObj(r).match);
    if (matches.length === 0) {
      if (catchAll >= 0) unreachable(i, r, "only the last rule can have no matches");
      catchAll = i;
      return;
    }
    let duplicates = 0;
    matches.forEach((m, j) => {
      if (catchAll >= 0) {
        unreachable(i, r, "a rule without matches comes before it");
        return;
      }
      const matchName = (kind === "http" && asStr(asObj(m).name) && JSON.stringify(asObj(m).name)) || `#${j}`;
      const key = JSON.stringify(canonical(m, kind === "http"));
      const dup = seen.get(key);
      if (dup !== undefined) {
        ineffective(i, j, `${name(r, i)} match ${matchName}`, name(routes[dup], dup));
        duplicates++;
        return;
      }
      seen.set(key, i);
      if (kind === "http") {
        const p = prefixMatch(asObj(m), name(r, i), matchName);
        if (p) prefixes.push(p);
      }
    });
    if (duplicates === matches.length) unreachable(i, r, "every match is used by earlier rules");
  });
  prefixes.forEach((a, ai) => {
    for (const b of prefixes.slice(ai + 1)) {
      if (b.prefix === a.prefix || !covers(a, b)) continue;
      const i = routes.findIndex((r, n) => name(r, n) === b.route);
      f.warn(
        VS.INEFFECTIVE_MATCH,
        `spec.http[${i}]`,
        `rule ${b.route} match ${b.match} of prefix ${b.prefix} is never used (covered by match ${a.match} of prefix ${a.prefix} on rule ${a.route})`,
      );
    }
  });
}

export function checkReachability(f: Findings, spec: Json): void {
  checkRoutes(f, "http", asArr(spec.http));
  checkRoutes(f, "tcp", asArr(spec.tcp));
  checkRoutes(f, "tls", asArr(spec.tls));
}
