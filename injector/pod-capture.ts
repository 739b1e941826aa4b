// Whether an already-injected pod's traffic is to be captured by the CNI plugin, and with which
// `remora iptables` arguments. The arguments come from the same settings resolution and argument
// builder that produced the pod's istio-validation container, so the plugin programs exactly what
// the injector validated. The skip rules follow Istio's CNI plugin, in its order.
import type { Container, Pod } from "kubernetes-types/core/v1.d.ts";
import * as A from "./annotations.ts";
import { captureArgs } from "./capture-args.ts";
import { defaultInjectionConfig } from "./config.ts";
import { type InjectionError, parseGoBool, resolveSettings } from "./settings.ts";

export type CaptureSkipReason =
  | "init_container"
  | "proxy_disabled"
  | "no_proxy"
  | "not_sidecar"
  | "injection_disabled"
  | "not_injected"
  | "interception_none";

export const CAPTURE_SKIP_REASONS: Record<CaptureSkipReason, string> = {
  init_container: "the pod has an istio-init container, which sets up its capture itself",
  proxy_disabled: "istio-proxy has DISABLE_ENVOY=true",
  no_proxy: "the pod has no istio-proxy container",
  not_sidecar: "the proxy is not a sidecar (a gateway or another proxy type)",
  injection_disabled: "the pod opts out with sidecar.istio.io/inject=false",
  not_injected: "the pod has no sidecar.istio.io/status annotation (it was not injected)",
  interception_none: "the pod's interception mode is NONE",
};

export type PodCapture =
  | { kind: "skip"; reason: CaptureSkipReason; message: string }
  | { kind: "capture"; args: string[] }
  | { kind: "error"; errors: InjectionError[] };

function skip(reason: CaptureSkipReason): PodCapture {
  return { kind: "skip", reason, message: CAPTURE_SKIP_REASONS[reason] };
}

/**
 * The proxy type a proxy container runs as: Istio's `proxy <type>` arguments, or the first field
 * of Remora's `--service-node <type>~…`. Undefined when neither is there.
 */
function proxyType(c: Container): string | undefined {
  const args = c.args ?? [];
  if (args[0] === "proxy" && args[1]) return args[1];
  const i = args.indexOf("--service-node");
  const node = i >= 0 ? args[i + 1] : undefined;
  return node?.split("~")[0];
}

/** Decides capture for a pod as the API server returns it (after injection). */
export function podCapture(pod: Pod): PodCapture {
  const spec = pod.spec;
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  if (containers.some((c) => c.name === A.INIT_CONTAINER)) return skip("init_container");
  const proxy = containers.find((c) => c.name === A.PROXY_CONTAINER);
  const disabled = proxy?.env?.find((e) => e.name === "DISABLE_ENVOY")?.value;
  if (disabled !== undefined && parseGoBool(disabled) === true) return skip("proxy_disabled");
  if (!proxy) return skip("no_proxy");
  const type = proxyType(proxy);
  if (type !== undefined && type !== "sidecar") return skip("not_sidecar");
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const inject = labels[A.INJECT] ?? annotations[A.INJECT];
  if (inject !== undefined && parseGoBool(inject) === false) return skip("injection_disabled");
  if (annotations[A.STATUS] === undefined) return skip("not_injected");

  // In CNI mode the injector wrote the effective capture settings into the annotations, so the
  // defaults only matter for pods injected some other way.
  const config = defaultInjectionConfig();
  const errors: InjectionError[] = [];
  const settings = resolveSettings(annotations, config, undefined, errors);
  if (errors.length > 0) return { kind: "error", errors };
  if (settings.capture.interceptionMode === "NONE") return skip("interception_none");
  // Istio's CNI takes the proxy's uid when it is set and not root (a TPROXY proxy runs as root).
  const uid = proxy.securityContext?.runAsUser;
  const proxyUid = uid !== undefined && uid !== 0 ? uid : config.proxyUid;
  const args = captureArgs({
    capture: settings.capture,
    statusPort: settings.statusPort,
    proxyUid,
    initLogLevel: settings.initLogLevel,
    validationOnly: false,
  });
  return { kind: "capture", args };
}
