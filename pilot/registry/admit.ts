// What a config source serves for one Istio object it read, after validation: the one rule the
// Kubernetes source applies per object and the file source applies to the security objects of a
// file it cannot use. A valid object is served as read. An invalid one is replaced by its last
// valid version when the source holds one (CFG0015), so a bad edit never replaces good config.
// Without one, an invalid security.istio.io object is served in its fail-closed form (CFG0023,
// see pilot/validation/fail-closed.ts), because leaving a security policy out can open the
// workloads it covers; any other invalid object is left out until it is fixed (CFG0015).
import type { Diagnostic, ObjectRef } from "../model/diagnostic.ts";
import { failClosedForm } from "../validation/index.ts";

interface RawLike {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
}

export interface Admitted {
  /** What to serve: the object, its last valid version, its fail-closed form, or nothing. */
  object: unknown;
  /** True when the object had no error findings (it becomes the last valid version). */
  valid: boolean;
  /** The source's notes about what it serves instead (the findings themselves are not repeated). */
  notes: Diagnostic[];
}

export const LAST_VALID_STAYS = "CFG0015";
export const FAIL_CLOSED = "CFG0023";

/** True for objects of security.istio.io, whose absence can open a workload. */
export function isSecurityObject(o: unknown): boolean {
  const v = (o as RawLike | undefined)?.apiVersion;
  return typeof v === "string" && v.startsWith("security.istio.io/");
}

/** `Kind/namespace/name`: one object across its versions. */
export function objectKey(o: unknown): string {
  const r = o as RawLike;
  return `${String(r?.kind)}/${String(r?.metadata?.namespace ?? "")}/${String(r?.metadata?.name ?? "")}`;
}

function refOf(o: RawLike, source: string): ObjectRef {
  return {
    kind: String(o.kind),
    namespace: typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "",
    name: typeof o.metadata?.name === "string" ? o.metadata.name : "",
    source,
  };
}

function describe(o: RawLike): string {
  const rv = o.metadata?.resourceVersion;
  const ns =
    typeof o.metadata?.namespace === "string" && o.metadata.namespace ? `${o.metadata.namespace}/` : "";
  return `${String(o.kind)} ${ns}${String(o.metadata?.name ?? "")}${typeof rv === "string" ? ` (resourceVersion ${rv})` : ""}`;
}

/** Decides what to serve for `obj` given its validation findings and its last valid version. */
export function admitObject(
  obj: unknown,
  findings: readonly Diagnostic[],
  lastGood: unknown,
  source: string,
): Admitted {
  if (!findings.some((d) => d.severity === "error")) return { object: obj, valid: true, notes: [] };
  const o = obj as RawLike;
  const ref = refOf(o, source);
  if (lastGood !== undefined) {
    const rv = (lastGood as RawLike).metadata?.resourceVersion;
    return {
      object: lastGood,
      valid: false,
      notes: [
        {
          code: LAST_VALID_STAYS,
          severity: "warning",
          message: `${describe(o)} is invalid; its last valid version${typeof rv === "string" ? ` (${rv})` : ""} stays in force until it is fixed`,
          ref,
        },
      ],
    };
  }
  const form = failClosedForm(obj, findings);
  if (form) {
    return {
      object: form.object,
      valid: false,
      notes: [
        {
          code: FAIL_CLOSED,
          severity: "warning",
          message: `${describe(o)} is invalid and no valid version of it is in force, so it is enforced fail-closed: ${form.summary}; fix the errors reported for it to enforce it as written`,
          ref,
        },
      ],
    };
  }
  return {
    object: undefined,
    valid: false,
    notes: [
      {
        code: LAST_VALID_STAYS,
        severity: "warning",
        message: `${describe(o)} is invalid; it is ignored until it is fixed`,
        ref,
      },
    ],
  };
}

/** The note for a valid security object served from a file whose other content has errors. */
export function servedDespiteFile(obj: unknown, path: string, source: string): Diagnostic {
  const o = obj as RawLike;
  return {
    code: FAIL_CLOSED,
    severity: "warning",
    message: `${describe(o)} is served although ${path} has errors: leaving a security policy out could open the workloads it covers`,
    ref: refOf(o, source),
  };
}
