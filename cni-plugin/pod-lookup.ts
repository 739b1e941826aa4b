// Reading the pod being set up from the API server, retried until a deadline. Every failure is
// retried (refused connections during an API server restart, 5xx, 429, and also 401/403 while the
// installer rewrites a rotated token, or a 404 from a lagging cache); when the deadline passes the
// runtime gets "try again later" (11) and no rule has been touched.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
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

export interface LookupOptions {
  deadlineMs: number;
  log?: (line: string) => void;
  /** Per-request limit (default 5 s, or what is left of the deadline). */
  requestTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fetchPod(
  conn: KubeConnection,
  namespace: string,
  name: string,
  opts: LookupOptions,
): Promise<Pod> {
  const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
  const end = Date.now() + opts.deadlineMs;
  let delay = 100;
  let attempt = 0;
  let last = "";
  for (;;) {
    attempt++;
    const left = end - Date.now();
    try {
      const r = await kubeRequest(conn, path, {
        timeoutMs: Math.max(50, Math.min(opts.requestTimeoutMs ?? 5000, left)),
      });
      const body = r.body as Pod | undefined;
      if (r.status === 200 && body && typeof body === "object" && body.metadata) return body;
      last = r.status === 200 ? "the answer is not a Pod" : `HTTP ${r.status}: ${statusMessage(r)}`;
    } catch (e) {
      last = (e as Error).message;
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
    `cannot read pod ${namespace}/${name} from the Kubernetes API; the pod is not started without its traffic capture`,
    `${attempt} attempts over ${Math.round(opts.deadlineMs / 100) / 10} s; last: ${last}`,
  );
}
