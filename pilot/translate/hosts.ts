// Host name rules shared by scoping and routing: short names resolve in the config's namespace,
// wildcards match by suffix, and `ns/host` selectors (Sidecar egress, Gateway hosts) are parsed.

/** Resolves a short name (`reviews`) to `reviews.<ns>.svc.<suffix>`; names with a dot are kept. */
export function resolveHost(host: string, namespace: string, domainSuffix: string): string {
  if (host === "*" || host.includes(".")) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** Does `pattern` (exact, `*`, or `*.suffix`) match `host` (which may itself be a wildcard)? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*")) {
    const suffix = pattern.slice(1);
    if (host.startsWith("*")) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix);
  }
  return false;
}

/** Do two host patterns overlap (either matches the other)? */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/** Ranks how specifically `pattern` matches: exact beats the longest wildcard. */
export function matchSpecificity(pattern: string, host: string): number {
  if (pattern === host) return Number.MAX_SAFE_INTEGER;
  return hostMatches(pattern, host) ? pattern.length : -1;
}

/** Is a config with this exportTo (already defaulted) in `owner` visible from namespace `viewer`? */
export function exportedTo(exportTo: readonly string[], owner: string, viewer: string): boolean {
  for (const e of exportTo) {
    if (e === "*" || e === viewer) return true;
    if (e === "." && owner === viewer) return true;
  }
  return false;
}

export interface NsHost {
  namespace: string;
  host: string;
}

/** Parses a Sidecar egress host `ns/host` (ns is `*`, `.`, `~` or a name). A bare host means any namespace. */
export function parseNsHost(text: string): NsHost {
  const slash = text.indexOf("/");
  if (slash < 0) return { namespace: "*", host: text };
  return { namespace: text.slice(0, slash), host: text.slice(slash + 1) };
}

/** Does a Sidecar egress selector (in `sidecarNs`) select `host` owned by namespace `owner`? */
export function nsHostSelects(sel: NsHost, sidecarNs: string, owner: string, host: string): boolean {
  if (sel.namespace === "~") return false;
  if (sel.namespace === "." && owner !== sidecarNs) return false;
  if (sel.namespace !== "*" && sel.namespace !== "." && sel.namespace !== owner) return false;
  return hostMatches(sel.host, host);
}
