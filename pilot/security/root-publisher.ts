// Publishes the mesh root to every namespace as ConfigMap `istio-ca-root-cert` (key
// `root-cert.pem`, label `istio.io/config=true`), as istiod's namespace controller does: created
// where missing, rewritten where it differs (a rotated root, a hand edit), skipped for
// kube-public, kube-node-lease and local-path-storage. A periodic full pass repairs deletions.
import { ApiException, CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { SECURITY_DEFAULTS } from "./security-defaults.ts";

const IGNORED = new Set(["kube-public", "kube-node-lease", "local-path-storage"]);
const LABELS = { "istio.io/config": "true" };

export interface PublisherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class RootCertPublisher {
  private readonly api: CoreV1Api;
  /** Namespace → root last written or seen there. */
  private readonly published = new Map<string, string>();
  private running: Promise<void> = Promise.resolve();
  writes = 0;

  constructor(
    kubeConfig: KubeConfig,
    private rootPem: string,
    private readonly log: PublisherLogger,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Changes the root (all namespaces are rewritten on the next sync). */
  setRoot(rootPem: string): void {
    if (rootPem === this.rootPem) return;
    this.rootPem = rootPem;
    this.published.clear();
  }

  /**
   * Makes sure every namespace has the current root. `full` re-reads namespaces already done
   * (to repair deleted or edited ConfigMaps). Calls are serialised.
   */
  sync(namespaces: Iterable<string>, full = false): Promise<void> {
    const list = [...namespaces].filter((n) => !IGNORED.has(n));
    if (full) this.published.clear();
    this.running = this.running.then(() => this.syncNow(list));
    return this.running;
  }

  private async syncNow(namespaces: string[]): Promise<void> {
    for (const ns of namespaces) {
      if (this.published.get(ns) === this.rootPem) continue;
      try {
        await this.ensure(ns);
        this.published.set(ns, this.rootPem);
      } catch (err) {
        this.log.warn(
          { namespace: ns, err: (err as Error).message },
          `could not publish ${SECURITY_DEFAULTS.rootConfigMapName}; retrying on the next sync`,
        );
      }
    }
  }

  private async ensure(namespace: string): Promise<void> {
    const name = SECURITY_DEFAULTS.rootConfigMapName;
    const key = SECURITY_DEFAULTS.rootConfigMapKey;
    let current: V1ConfigMap | undefined;
    try {
      current = await this.api.readNamespacedConfigMap({ namespace, name });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
    if (!current) {
      try {
        await this.api.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name, namespace, labels: LABELS }, data: { [key]: this.rootPem } },
        });
        this.writes++;
      } catch (err) {
        // Another replica created it meanwhile: the next full pass checks its content.
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      }
      return;
    }
    if (current.data?.[key] === this.rootPem) return;
    await this.api.replaceNamespacedConfigMap({
      namespace,
      name,
      body: {
        ...current,
        metadata: { ...current.metadata, labels: { ...(current.metadata?.labels ?? {}), ...LABELS } },
        data: { ...(current.data ?? {}), [key]: this.rootPem },
      },
    });
    this.writes++;
    this.log.info({ namespace }, `updated ${name} with the current root`);
  }
}
