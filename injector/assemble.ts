// Where each template's injected containers go: the sidecar's proxy and istio-init (native or
// classic placement, CNI order), the gateway's proxy in place of the pod's own istio-proxy, and
// the proxyless templates' init container, agent and the app containers they point at the xDS
// bootstrap. What is returned is all injectPod needs for the pod spec and the status annotation.
import type { Container, Volume } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { grpcAgentParts, grpcSimpleParts, withGrpcBootstrap } from "./grpc-templates.ts";
import { mergeContainer } from "./overrides.ts";
import { buildInitContainer, buildProxyContainer, buildVolumes, type SidecarContext } from "./sidecar.ts";
import type { TemplateName } from "./templates.ts";
import type { RestoreRecord } from "./uninject.ts";

type Override = NonNullable<RestoreRecord["overrides"]>[number];

export interface Assembled {
  containers: Container[];
  initContainers: Container[];
  volumes: Volume[];
  /** Container names uninject removes (Istio's status annotation). */
  injectedContainers: string[];
  injectedInitContainers: string[];
  /** App containers the template changed: their originals, so uninject puts them back. */
  changedApps: Override[];
  /** The init container that captures traffic, when there is one (CNI annotations read it). */
  init?: Container;
}

export interface AssembleInput {
  template: TemplateName;
  ctx: SidecarContext;
  /** The pod's own istio-* containers, merged over the injected ones. */
  overrides: readonly Override[];
  /** App containers (without istio-*), and where each was in the pod's list. */
  apps: readonly Container[];
  appIndexes: readonly number[];
  userInits: readonly Container[];
}

function merged(built: Container, overrides: readonly Override[]): Container {
  const user = overrides.find((o) => o.container.name === built.name)?.container;
  return user ? mergeContainer(built, user) : built;
}

export function assembleContainers(input: AssembleInput): Assembled {
  const { template, ctx, overrides, apps, userInits } = input;
  const s = ctx.settings;
  if (template === "grpc-simple" || template === "grpc-agent") {
    const parts = template === "grpc-simple" ? grpcSimpleParts(ctx) : grpcAgentParts(ctx);
    const changedApps: Override[] = apps.map((c, i) => ({
      list: "containers",
      index: input.appIndexes[i] ?? i,
      container: c,
    }));
    const agent = parts.agent && merged(parts.agent, overrides);
    const containers = [...apps.map((c) => withGrpcBootstrap(c, parts)), ...(agent ? [agent] : [])];
    return {
      containers,
      initContainers: [...parts.initContainers, ...userInits],
      volumes: parts.volumes,
      injectedContainers: [...(agent ? [A.PROXY_CONTAINER] : []), ...apps.map((c) => c.name)],
      injectedInitContainers: parts.initContainers.map((c) => c.name),
      changedApps,
    };
  }
  const proxy = merged(buildProxyContainer(ctx), overrides);
  const volumes = buildVolumes(ctx);
  if (template === "gateway") {
    // The proxy is the pod's main container: it takes the place of the pod's own istio-proxy.
    const at = overrides.find(
      (o) => o.list === "containers" && o.container.name === A.PROXY_CONTAINER,
    )?.index;
    const containers = [...apps];
    const pos = at === undefined ? containers.length : input.appIndexes.filter((i) => i < at).length;
    containers.splice(pos, 0, proxy);
    return {
      containers,
      initContainers: [...userInits],
      volumes,
      injectedContainers: [A.PROXY_CONTAINER],
      injectedInitContainers: [],
      changedApps: [],
    };
  }
  const built = buildInitContainer(ctx);
  const init = built && merged(built, overrides);
  const before = init ? [init] : [];
  let initContainers: Container[];
  let containers: Container[];
  if (s.native) {
    initContainers = [...before, proxy, ...userInits];
    containers = [...apps];
  } else {
    initContainers = ctx.config.cni ? [...before, ...userInits] : [...userInits, ...before];
    containers = s.holdApplication ? [proxy, ...apps] : [...apps, proxy];
  }
  const out: Assembled = {
    containers,
    initContainers,
    volumes,
    injectedContainers: s.native ? [] : [A.PROXY_CONTAINER],
    injectedInitContainers: [...(init ? [init.name] : []), ...(s.native ? [A.PROXY_CONTAINER] : [])],
    changedApps: [],
  };
  if (init) out.init = init;
  return out;
}
