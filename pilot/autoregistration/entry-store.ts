// The Kubernetes calls auto-registration makes: read a WorkloadGroup, and read, create, replace
// (also their status, for health checks) and delete WorkloadEntries in the config cluster (networking.istio.io v1). Every call is
// bounded by a timeout, so a hung API server cannot hold an xDS stream open forever; "not
// found" is a value, every other failure an error carrying the HTTP status.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { WorkloadEntryObject, WorkloadGroupObject } from "./workload-entry.ts";

const GROUP = "networking.istio.io";
const VERSION = "v1";

export interface EntryStore {
  getGroup(namespace: string, name: string): Promise<WorkloadGroupObject | undefined>;
  getEntry(namespace: string, name: string): Promise<WorkloadEntryObject | undefined>;
  /** Creates it; undefined when one of that name already exists (409). */
  createEntry(entry: WorkloadEntryObject): Promise<WorkloadEntryObject | undefined>;
  /** Replaces it; a changed resourceVersion is an error with status 409. */
  replaceEntry(entry: WorkloadEntryObject): Promise<WorkloadEntryObject>;
  /** Replaces only its status (the status subresource); a changed resourceVersion is a 409 error. */
  replaceEntryStatus(entry: WorkloadEntryObject): Promise<WorkloadEntryObject>;
  /** Deletes it if it still has `resourceVersion`; false when it was gone or had changed. */
  deleteEntry(namespace: string, name: string, resourceVersion?: string): Promise<boolean>;
}

export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  const s = e?.code ?? e?.statusCode;
  return typeof s === "number" ? s : undefined;
}

function bodyMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      const m = (JSON.parse(body) as { message?: unknown }).message;
      if (typeof m === "string") return m;
    } catch {
      return body.slice(0, 300);
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** The store over a cluster's API server, each call at most `timeoutMs`. */
export function kubeEntryStore(kubeConfig: KubeConfig, timeoutMs = 10_000): EntryStore {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ApiCallError(`${what}: no answer from the API server within ${timeoutMs} ms`, undefined),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([f(), timeout]);
    } catch (err) {
      if (err instanceof ApiCallError) throw err;
      throw new ApiCallError(`${what}: ${bodyMessage(err)}`, statusOf(err));
    } finally {
      clearTimeout(timer);
    }
  };
  const orUndefined = async <T>(p: Promise<T>, status: number): Promise<T | undefined> => {
    try {
      return await p;
    } catch (err) {
      if (err instanceof ApiCallError && err.status === status) return undefined;
      throw err;
    }
  };
  const where = (namespace: string, plural: string) => ({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
  });
  return {
    getGroup: (namespace, name) =>
      orUndefined(
        call(`get WorkloadGroup ${namespace}/${name}`, () =>
          api.getNamespacedCustomObject({ ...where(namespace, "workloadgroups"), name }),
        ) as Promise<WorkloadGroupObject>,
        404,
      ),
    getEntry: (namespace, name) =>
      orUndefined(
        call(`get WorkloadEntry ${namespace}/${name}`, () =>
          api.getNamespacedCustomObject({ ...where(namespace, "workloadentries"), name }),
        ) as Promise<WorkloadEntryObject>,
        404,
      ),
    createEntry: (entry) =>
      orUndefined(
        call(`create WorkloadEntry ${entry.metadata.namespace}/${entry.metadata.name}`, () =>
          api.createNamespacedCustomObject({
            ...where(entry.metadata.namespace, "workloadentries"),
            body: entry,
          }),
        ) as Promise<WorkloadEntryObject>,
        409,
      ),
    replaceEntry: (entry) =>
      call(`update WorkloadEntry ${entry.metadata.namespace}/${entry.metadata.name}`, () =>
        api.replaceNamespacedCustomObject({
          ...where(entry.metadata.namespace, "workloadentries"),
          name: entry.metadata.name,
          body: entry,
        }),
      ) as Promise<WorkloadEntryObject>,
    replaceEntryStatus: (entry) =>
      call(`update WorkloadEntry ${entry.metadata.namespace}/${entry.metadata.name} status`, () =>
        api.replaceNamespacedCustomObjectStatus({
          ...where(entry.metadata.namespace, "workloadentries"),
          name: entry.metadata.name,
          body: entry,
        }),
      ) as Promise<WorkloadEntryObject>,
    deleteEntry: async (namespace, name, resourceVersion) => {
      try {
        await call(`delete WorkloadEntry ${namespace}/${name}`, () =>
          api.deleteNamespacedCustomObject({
            ...where(namespace, "workloadentries"),
            name,
            ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
          }),
        );
        return true;
      } catch (err) {
        if (err instanceof ApiCallError && (err.status === 404 || err.status === 409)) return false;
        throw err;
      }
    },
  };
}
