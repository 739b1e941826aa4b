// Which Gateways apply to a router proxy and how their servers share ports (Istio's
// mergeGateways): a Gateway applies when its selector matches the proxy's labels, in any
// namespace. Each server's port is translated to the gateway Service's targetPort when the proxy
// serves that Service port. Plain-text HTTP servers on one port merge into one `http.<port>`
// route; TLS servers on one port are told apart by SNI, HTTPS ones each with its own
// `https.<port>.<portName>.<gateway>.<ns>` route. What cannot share a port (HTTP and TCP, two TCP
// servers, one SNI host twice) is a diagnostic naming both servers; the later one is left out.
import type { ConfigObject } from "../model/config.ts";
import type { Protocol } from "../model/service.ts";
import { isHttpProtocol, parseProtocol } from "../snapshot/protocol.ts";
import { labelsMatch } from "../snapshot/workloads.ts";
import { type Ctx, configRef, diag } from "./context.ts";
import type { GatewayServer, GatewaySpecLoose, ServerTlsMode } from "./istio-api.ts";

export interface MergedServer {
  readonly gateway: ConfigObject<"Gateway">;
  /** `namespace/name`, as VirtualServices name gateways. */
  readonly gatewayName: string;
  /** The server with `./h` and `*\/h` host forms resolved (Istio's sanitizeServerHostNamespace). */
  readonly server: GatewayServer;
  /** Field path of the server in its Gateway, for diagnostics. */
  readonly path: string;
  readonly protocol: Protocol | undefined;
  /** The port the listener binds (the Service targetPort when the proxy serves that Service port). */
  readonly port: number;
  /** RDS name for HTTP and TLS-terminating HTTPS servers. */
  readonly routeName?: string;
  /** Server hosts without namespaces, sorted, for SNI matching. */
  readonly sniHosts: readonly string[];
}

export interface MergedPort {
  readonly port: number;
  readonly bind: string;
  readonly servers: MergedServer[];
}

export interface MergedGateway {
  /** Listener ports in first-seen order (oldest Gateway first). */
  readonly ports: MergedPort[];
  /** Servers by RDS name. */
  readonly routes: Map<string, MergedServer[]>;
  /** `namespace/name` of every Gateway that applies. */
  readonly gatewayNames: ReadonlySet<string>;
}

/** The server's TLS mode; unset means PASSTHROUGH, the enum's zero value, as in Istio. */
export function tlsMode(s: GatewayServer): ServerTlsMode | undefined {
  return s.tls ? (s.tls.mode ?? "PASSTHROUGH") : undefined;
}

export function isPassthrough(s: GatewayServer): boolean {
  const mode = tlsMode(s);
  return mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH";
}

/** HTTP in the clear, or HTTPS terminated here: served through an HTTP connection manager. */
export function isHttpServer(s: MergedServer): boolean {
  if (s.protocol && isHttpProtocol(s.protocol)) return true;
  return s.protocol === "HTTPS" && !isPassthrough(s.server);
}

/** A server distinguished by TLS (SNI), as opposed to plain text (HTTP with httpsRedirect is plain). */
export function isTlsServer(s: MergedServer): boolean {
  return s.server.tls !== undefined && !(s.protocol && isHttpProtocol(s.protocol));
}

function sanitizeHosts(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf("/");
    if (slash < 0) out.push(h);
    else {
      const ns = h.slice(0, slash);
      const host = h.slice(slash + 1);
      if (ns === ".") out.push(`${namespace}/${host}`);
      else if (ns === "*") {
        if (host === "*") return ["*"];
        out.push(host);
      } else out.push(h);
    }
  }
  return out;
}

function sniHostsOf(hosts: readonly string[]): string[] {
  const set = new Set(hosts.map((h) => (h.includes("/") ? h.slice(h.indexOf("/") + 1) : h)));
  return [...set].sort();
}

/** The port a server listens on: the targetPort of the proxy's Service port with that number. */
function resolvePort(ctx: Ctx, number: number): number {
  for (const ip of ctx.proxy.ipAddresses) {
    for (const t of ctx.index.targetsByIp.get(ip) ?? []) {
      const sp = t.service.ports.find((p) => p.name === t.endpoint.servicePortName);
      if (sp?.port === number) return t.endpoint.port;
    }
  }
  return number;
}

function routeNameFor(
  s: GatewayServer,
  protocol: Protocol | undefined,
  port: number,
  gw: ConfigObject,
): string | undefined {
  const bind = s.bind ? `.${s.bind}` : "";
  if (protocol && isHttpProtocol(protocol)) return `http.${port}${bind}`;
  if (protocol === "HTTPS" && !isPassthrough(s))
    return `https.${s.port?.number}.${s.port?.name ?? ""}.${gw.meta.name}.${gw.meta.namespace}${bind}`;
  return undefined;
}

function describe(s: MergedServer): string {
  return `Gateway ${s.gatewayName} ${s.path} (port ${s.server.port?.number} ${s.server.port?.protocol ?? ""})`;
}

/** The Gateways whose selector matches the proxy, oldest first. */
export function gatewaysFor(ctx: Ctx): ConfigObject<"Gateway">[] {
  return ctx.snapshot.configs.Gateway.filter((g) => {
    const sel = (g.spec as GatewaySpecLoose).selector;
    return labelsMatch(sel, ctx.proxy.labels);
  });
}

export function mergeGateways(ctx: Ctx): MergedGateway {
  const ports: MergedPort[] = [];
  const byKey = new Map<string, MergedPort>();
  const routes = new Map<string, MergedServer[]>();
  const gatewayNames = new Set<string>();
  /** port|bind → SNI host → the server that claimed it. */
  const tlsHosts = new Map<string, Map<string, MergedServer>>();
  const conflict = (kept: MergedServer, dropped: MergedServer, why: string) =>
    diag(ctx, {
      code: "TR0502",
      severity: "warning",
      message: `${describe(dropped)} conflicts with ${describe(kept)}: ${why}; the first keeps the port and this server is left out`,
      ref: configRef(dropped.gateway),
      path: dropped.path,
    });
  for (const gw of gatewaysFor(ctx)) {
    const gatewayName = `${gw.meta.namespace}/${gw.meta.name}`;
    gatewayNames.add(gatewayName);
    for (const [i, raw] of ((gw.spec as GatewaySpecLoose).servers ?? []).entries()) {
      const path = `spec.servers[${i}]`;
      const number = raw.port?.number;
      if (!number) {
        diag(ctx, {
          code: "TR0504",
          severity: "error",
          message: "a Gateway server needs port.number; this server was left out",
          ref: configRef(gw),
          path: `${path}.port`,
        });
        continue;
      }
      const server: GatewayServer = { ...raw, hosts: sanitizeHosts(raw.hosts ?? [], gw.meta.namespace) };
      const protocol = parseProtocol(raw.port?.protocol);
      const port = resolvePort(ctx, number);
      const routeName = routeNameFor(server, protocol, port, gw);
      const m: MergedServer = {
        gateway: gw,
        gatewayName,
        server,
        path,
        protocol,
        port,
        sniHosts: server.tls ? sniHostsOf(server.hosts ?? []) : [],
        ...(routeName ? { routeName } : {}),
      };
      const bind = server.bind ?? "";
      const key = `${port}|${bind}`;
      if (server.tls) {
        let known = tlsHosts.get(key);
        if (!known) {
          known = new Map();
          tlsHosts.set(key, known);
        }
        const dup = (server.hosts ?? []).find((h) => known.has(h));
        if (dup) {
          conflict(known.get(dup)!, m, `host ${dup} is already served on port ${port}`);
          continue;
        }
      }
      let merged = byKey.get(key);
      if (merged) {
        const plain = merged.servers.find((s) => !isTlsServer(s));
        if (!isTlsServer(m) && plain) {
          const bothHttp =
            plain.protocol && m.protocol && isHttpProtocol(plain.protocol) && isHttpProtocol(m.protocol);
          if (!bothHttp) {
            conflict(
              plain,
              m,
              `${m.protocol ?? "an unknown protocol"} and ${plain.protocol ?? "an unknown protocol"} cannot share a plain-text port`,
            );
            continue;
          }
        }
        if (m.routeName && routes.has(m.routeName) && isTlsServer(m)) {
          conflict(
            routes.get(m.routeName)![0]!,
            m,
            `both use route ${m.routeName} (give HTTPS servers distinct port names)`,
          );
          continue;
        }
      } else {
        merged = { port, bind, servers: [] };
        byKey.set(key, merged);
        ports.push(merged);
      }
      if (server.tls) for (const h of server.hosts ?? []) tlsHosts.get(key)?.set(h, m);
      merged.servers.push(m);
      if (m.routeName && isHttpServer(m)) {
        const list = routes.get(m.routeName);
        if (list) list.push(m);
        else routes.set(m.routeName, [m]);
      }
    }
  }
  return { ports, routes, gatewayNames };
}
