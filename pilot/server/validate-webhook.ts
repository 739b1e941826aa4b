// Istio config validation as the injector's `/validate` function: `validateAdmissionObject`
// diagnostics become an admission verdict. Errors deny (each named by code and field path, so the
// user sees what to fix and where), warnings pass through as admission warnings (kubectl prints
// them), info diagnostics are dropped. Pure: no I/O, never throws for any input.
import type { ValidateFn, ValidationVerdict } from "../../injector/index.ts";
import type { Diagnostic } from "../model/diagnostic.ts";
import { validateAdmissionObject } from "../validation/index.ts";

/** An object with thousands of problems must not produce a megabyte of response. */
const MAX_LISTED = 20;

function describe(d: Diagnostic): string {
  return d.path ? `${d.code} ${d.path}: ${d.message}` : `${d.code}: ${d.message}`;
}

function listed(ds: Diagnostic[]): string[] {
  const out = ds.slice(0, MAX_LISTED).map(describe);
  if (ds.length > MAX_LISTED) out.push(`… and ${ds.length - MAX_LISTED} more`);
  return out;
}

/** Turns validation diagnostics into `{allowed, message, warnings}`. */
export function verdictFromDiagnostics(diagnostics: Diagnostic[]): ValidationVerdict {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const warnings = diagnostics.filter((d) => d.severity === "warning");
  const verdict: ValidationVerdict = { allowed: errors.length === 0 };
  if (errors.length > 0) {
    const ref = errors[0]?.ref;
    const what = ref ? `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}` : "configuration";
    verdict.message = `${what} is invalid: ${listed(errors).join("; ")}`;
  }
  if (warnings.length > 0) verdict.warnings = listed(warnings);
  return verdict;
}

/** The validation function `remora serve` hands to `startInjector({ validate })`. */
export function istioValidateFn(): ValidateFn {
  return (object) => verdictFromDiagnostics(validateAdmissionObject(object));
}
