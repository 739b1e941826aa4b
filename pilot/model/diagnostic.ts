// Diagnostics: the one way user-config problems are reported (validation, analysis,
// translation, NACKs). They are values, never exceptions, so a bad object cannot stop a push.

export type Severity = "error" | "warning" | "info";

/** Points at the object a diagnostic is about. */
export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
  /** Where the object came from: a file path (with line when known) or `cluster/<id>`. */
  source?: string;
}

export interface Diagnostic {
  /**
   * Stable machine code. Analysis findings reuse `istioctl analyze` codes (e.g. IST0101)
   * where Istio has one; validation and translation use Remora's own (e.g. VS0003).
   */
  code: string;
  severity: Severity;
  /** What is wrong and how to fix it, in one or two sentences. */
  message: string;
  ref?: ObjectRef;
  /** Field path inside the object, e.g. `spec.http[0].route[1].weight`. */
  path?: string;
}
