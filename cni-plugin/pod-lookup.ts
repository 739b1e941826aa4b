// Reading the pod being set up, retried until a deadline: from the node agent's socket when the
// config names one (a cached copy, no TLS), else, or once the agent does not answer, from the API
// server with the kubeconfig. Every failure is retried (refused connections during an API server
// restart, 5xx, 429, and also 401/403 while the installer rewrites a rotated token, or a 404 from a
// lagging cache); when the deadline passes the runtime gets "try again later" (11) and no rule has
// been touched.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { AgentUnavailable, askAgent } from "./agent-client.ts";
import { kubeRequest, statusMessage } from "./kube-request.ts";
import type { KubeConnection } from "./kubeconfig.ts";
import { CniError, CODES } from "./protocol.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Checks the K8S_POD_NAMESPACE / K8S_POD_NAME values before they go into a URL. */
export function checkPodRef(namespace: string, name: string): void {
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new CniError(
      CODES.invalidEnvironment,
      "CNI_ARGS: K8S_POD_NAMESPACE is not a namespace name",
      namespace.slice(0, 64),
    );
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new CniError(
      CODES.invalidEnvironment,
      "CNI_ARGS: K8S_POD_NAME is not a pod name",
      name.slice(0, 256),
    );
  }
}

export interface PodSources {
  /** The node agent's socket; empty: none. */
  agentSocket: string;
  /** The API connection, read only when needed (throws a CniError when it cannot be had). */
  kube: () => KubeConnection;
}

export interface LookupOptions {
  deadlineMs: number;
  log?: (line: string) => void;
  /** Per-request limit (default 5 s, or what is left of the deadline). */
  requestTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isPod = (b: unknown): b is Pod =>
  typeof b === "object" && b !== null && typeof (b as Pod).metadata === "object";

export async function fetchPod(
  sources: PodSources,
  namespace: string,
  name: string,
  opts: LookupOptions,
): Promise<Pod> {
  const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
  const end = Date.now() + opts.deadlineMs;
  let delay = 100;
  let attempt = 0;
  let last = "";
  let agent = sources.agentSocket !== "";
  let conn: KubeConnection | undefined;
  for (;;) {
    attempt++;
    const left = end - Date.now();
    const timeoutMs = Math.max(50, Math.min(opts.requestTimeoutMs ?? 5000, left));
    let asked = false;
    if (agent) {
      try {
        const r = await askAgent(sources.agentSocket, namespace, name, timeoutMs);
        if (r.status === 200 && isPod(r.body)) return r.body;
        last = `node agent: HTTP ${r.status}: ${messageOf(r.body, r.text)}`;
        // 404: the agent asked the API server itself, which does not know the pod (yet): retry.
        asked = r.status === 404;
      } catch (e) {
        if (!(e instanceof AgentUnavailable)) throw e;
        last = (e as Error).message;
      }
      if (!asked) {
        // Down, restarting or unable to reach the API: read the pod as an install without it does.
        agent = false;
        opts.log?.(`node agent not answering (${last}); reading the pod from the Kubernetes API`);
      }
    }
    if (!asked) {
      conn ??= sources.kube();
      try {
        const r = await kubeRequest(conn, path, { timeoutMs });
        if (r.status === 200 && isPod(r.body)) return r.body;
        last = r.status === 200 ? "the answer is not a Pod" : `HTTP ${r.status}: ${statusMessage(r)}`;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    const wait = Math.min(delay, end - Date.now());
    if (wait <= 0) break;
    if (attempt === 1)
      opts.log?.(
        `pod ${namespace}/${name} not read yet (${last}); retrying for ${Math.round(left / 1000)} s`,
      );
    await sleep(wait);
    delay = Math.min(delay * 2, 1000);
  }
  throw new CniError(
    CODES.tryAgainLater,
    `cannot read pod ${namespace}/${name} from the node agent or the Kubernetes API; the pod is not started without its traffic capture`,
    `${attempt} attempts over ${Math.round(opts.deadlineMs / 100) / 10} s; last: ${last}`,
  );
}

function messageOf(body: unknown, text: string): string {
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === "string" ? m : text.slice(0, 200);
}
