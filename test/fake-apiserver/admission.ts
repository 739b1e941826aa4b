// Admission plug points: mutating hooks run first and may return a replacement object, validating
// hooks run after them; any hook denies by throwing an ApiError (or returning `{ denied }`). This is
// where MutatingWebhookConfiguration / ValidatingWebhookConfiguration support plugs in.
import type { ResourceType } from "./resources.ts";
import { ApiError } from "./status.ts";
import type { KubeObject } from "./store.ts";

export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE";

export interface AdmissionAttributes {
  operation: AdmissionOperation;
  resource: ResourceType;
  /** The version the request used (all versions share one storage). */
  version: string;
  subResource?: string;
  namespace?: string;
  name: string;
  /** The object to store (CREATE/UPDATE); absent on DELETE. */
  object?: KubeObject;
  /** The stored object before the change (UPDATE/DELETE). */
  oldObject?: KubeObject;
  dryRun: boolean;
}

export type AdmissionResult = undefined | KubeObject | { denied: string; code?: number };
export type AdmissionHook = (attrs: AdmissionAttributes) => AdmissionResult | Promise<AdmissionResult>;

export class AdmissionChain {
  private readonly mutating: AdmissionHook[] = [];
  private readonly validating: AdmissionHook[] = [];

  /** Registers a hook; returns a function that removes it. */
  add(phase: "mutating" | "validating", hook: AdmissionHook): () => void {
    const list = phase === "mutating" ? this.mutating : this.validating;
    list.push(hook);
    return () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Runs the chain; returns the (possibly mutated) object to store. */
  async run(attrs: AdmissionAttributes): Promise<KubeObject | undefined> {
    let object = attrs.object;
    for (const hook of this.mutating) {
      const r = await hook({ ...attrs, ...(object ? { object: structuredClone(object) } : {}) });
      if (isDenied(r)) throw denial(r);
      if (r && attrs.operation !== "DELETE") object = r as KubeObject;
    }
    for (const hook of this.validating) {
      const r = await hook({ ...attrs, ...(object ? { object: structuredClone(object) } : {}) });
      if (isDenied(r)) throw denial(r);
    }
    return object;
  }
}

function isDenied(r: AdmissionResult): r is { denied: string; code?: number } {
  return !!r && typeof (r as { denied?: unknown }).denied === "string";
}

function denial(r: { denied: string; code?: number }): ApiError {
  const reason = r.code === 400 ? "BadRequest" : r.code === 422 ? "Invalid" : "Forbidden";
  return new ApiError(reason, r.denied);
}
