// One AdmissionReview in, one answer out: checks the review's shape, runs the engine on the pod and
// turns the result into an AdmissionResponse in the request's own API version (v1 or v1beta1).
// Pure apart from the engine call, so every branch is testable without a socket, and nothing the
// client sends can throw past this function.
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import type { EngineError, InjectionEngine } from "./engine.ts";
import { diffJson, type JsonPatch } from "./json-patch.ts";
import { podShapeProblem } from "./pod-shape.ts";

export const ADMISSION_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;
export type AdmissionVersion = (typeof ADMISSION_VERSIONS)[number];

/** Kubernetes keeps warnings short; longer ones are cut here rather than by the API server. */
const MAX_WARNING_LENGTH = 256;

export interface AdmissionStatus {
  code: number;
  message: string;
  reason?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
  status?: {
    metadata: Record<string, never>;
    status: "Failure";
    code: number;
    message: string;
    reason?: string;
  };
}

export interface AdmissionReviewOut {
  apiVersion: AdmissionVersion;
  kind: "AdmissionReview";
  response: AdmissionResponse;
}

/** What happened, for metrics and logs. */
export type Outcome =
  | { result: "injected"; reason: string; patchOps: number }
  | { result: "skipped"; reason: string }
  | { result: "rejected"; reason: string }
  | { result: "error"; reason: string };

export type ReviewAnswer =
  | { httpStatus: 200; body: AdmissionReviewOut; outcome: Outcome; patch?: JsonPatch }
  | { httpStatus: 400; body: { error: string; message: string }; outcome: Outcome };

export interface ReviewContext<C, M> {
  engine: InjectionEngine<C, M>;
  config: C;
  meshConfig?: M;
  revision?: string;
  /** Cluster and network from the webhook path (`/inject/cluster/<id>/net/<network>`). */
  location?: { cluster: string; network: string };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function badRequest(message: string): ReviewAnswer {
  return {
    httpStatus: 400,
    body: { error: "Bad Request", message },
    outcome: { result: "error", reason: "malformed_review" },
  };
}

export function shorten(s: string): string {
  return s.length <= MAX_WARNING_LENGTH ? s : `${s.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

/** "annotation X has invalid value Y: why" for every engine error, joined. */
export function describeEngineErrors(errors: EngineError[]): string {
  if (errors.length === 0) return "injection failed";
  return errors
    .map((e) => {
      if (e.annotation !== undefined) {
        const value = e.value === undefined ? "" : ` value ${JSON.stringify(e.value)}`;
        return `annotation ${e.annotation}${value}: ${e.message}`;
      }
      return e.message;
    })
    .join("; ");
}

/** Checks the shape of a pod just enough for the engine to work on it safely. */
function podProblem(obj: unknown): string | undefined {
  const shape = podShapeProblem(obj);
  if (shape) return shape;
  const spec = (obj as { spec: { containers: unknown[] } }).spec;
  if (spec.containers.length === 0) return "request.object.spec.containers must not be empty";
  return undefined;
}

/** A copy of the pod without `metadata.managedFields` (never part of the diff). */
function withoutManagedFields(pod: Record<string, unknown>): Record<string, unknown> {
  if (!isRecord(pod.metadata) || !("managedFields" in pod.metadata)) return pod;
  const { managedFields: _dropped, ...metadata } = pod.metadata;
  return { ...pod, metadata };
}

/** The checked outer shape of an AdmissionReview, shared by `/inject` and `/validate`. */
export type ReviewEnvelope =
  | { version: AdmissionVersion; request: Record<string, unknown>; uid: string }
  | { problem: string };

/** Checks apiVersion, kind, request and uid; anything else is the caller's business. */
export function parseReviewEnvelope(body: unknown): ReviewEnvelope {
  if (!isRecord(body)) return { problem: "the body must be a JSON object holding an AdmissionReview" };
  const apiVersion = body.apiVersion;
  if (!ADMISSION_VERSIONS.includes(apiVersion as AdmissionVersion)) {
    return {
      problem: `unsupported apiVersion ${JSON.stringify(apiVersion)}; expected admission.k8s.io/v1 or admission.k8s.io/v1beta1`,
    };
  }
  if (body.kind !== "AdmissionReview") {
    return { problem: `unsupported kind ${JSON.stringify(body.kind)}; expected AdmissionReview` };
  }
  const request = body.request;
  if (!isRecord(request)) return { problem: "the AdmissionReview has no request" };
  const uid = request.uid;
  if (typeof uid !== "string" || uid.length === 0 || uid.length > 256) {
    return { problem: "request.uid must be a non-empty string of at most 256 characters" };
  }
  return { version: apiVersion as AdmissionVersion, request, uid };
}

/**
 * Answers one decoded AdmissionReview body. A body that is not an AdmissionReview at all gets
 * HTTP 400; a review whose pod cannot be injected gets `allowed: false` with the reason, as the
 * API server only shows a rejection to the user when it comes inside a review.
 */
export function reviewAdmission<C, M>(body: unknown, ctx: ReviewContext<C, M>): ReviewAnswer {
  const envelope = parseReviewEnvelope(body);
  if ("problem" in envelope) return badRequest(envelope.problem);
  const { version, request, uid } = envelope;
  const answer = (
    response: Omit<AdmissionResponse, "uid">,
    outcome: Outcome,
    patch?: JsonPatch,
  ): ReviewAnswer => ({
    httpStatus: 200,
    body: { apiVersion: version, kind: "AdmissionReview", response: { uid, ...response } },
    outcome,
    ...(patch ? { patch } : {}),
  });
  const reject = (code: number, reason: string, message: string, outcomeReason: string): ReviewAnswer =>
    answer(
      { allowed: false, status: { metadata: {}, status: "Failure", code, reason, message } },
      { result: code >= 500 ? "error" : "rejected", reason: outcomeReason },
    );

  // Only pod creation is mutated; anything else the webhook is (mis)configured to see passes.
  const kind = isRecord(request.kind) ? request.kind.kind : undefined;
  const resource = isRecord(request.resource) ? request.resource.resource : undefined;
  if ((kind !== undefined && kind !== "Pod") || (resource !== undefined && resource !== "pods")) {
    return answer(
      {
        allowed: true,
        warnings: [shorten(`remora-injector: ignored ${String(kind ?? resource)}; only pods are injected`)],
      },
      { result: "skipped", reason: "not_a_pod" },
    );
  }
  if (request.subResource !== undefined && request.subResource !== "" && request.subResource !== null) {
    return answer({ allowed: true }, { result: "skipped", reason: "subresource" });
  }
  if (request.operation !== undefined && request.operation !== "CREATE") {
    return answer({ allowed: true }, { result: "skipped", reason: "not_create" });
  }
  const problem = podProblem(request.object);
  if (problem) return reject(400, "BadRequest", `remora-injector: ${problem}`, "malformed_pod");

  const original = withoutManagedFields(request.object as Record<string, unknown>);
  const meta = (original.metadata ?? {}) as Record<string, unknown>;
  const namespace =
    typeof request.namespace === "string" && request.namespace !== ""
      ? request.namespace
      : typeof meta.namespace === "string" && meta.namespace !== ""
        ? meta.namespace
        : "default";

  let result: ReturnType<InjectionEngine<C, M>["injectPod"]>;
  try {
    // The engine is copy-on-write (it never mutates its input; real-engine.test.ts checks this on
    // a frozen pod), so the original can be diffed against without a defensive deep copy.
    result = ctx.engine.injectPod(original as Pod, {
      namespace,
      config: ctx.config,
      ...(ctx.meshConfig !== undefined ? { meshConfig: ctx.meshConfig } : {}),
      ...(ctx.revision !== undefined ? { revision: ctx.revision } : {}),
      ...(ctx.location ? { location: ctx.location } : {}),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return reject(
      500,
      "InternalError",
      `remora-injector: internal error while injecting: ${message}`,
      "internal",
    );
  }

  if (result.kind === "error") {
    const invalidAnnotation = result.errors.some((e) => e.annotation !== undefined);
    return reject(
      400,
      invalidAnnotation ? "Invalid" : "BadRequest",
      `remora-injector: ${describeEngineErrors(result.errors)}`,
      invalidAnnotation ? "invalid_annotation" : "invalid_pod",
    );
  }
  if (result.kind === "skipped") {
    const { reason, message } = result.decision;
    return answer(
      { allowed: true, warnings: [shorten(`remora-injector: sidecar not injected (${reason}): ${message}`)] },
      { result: "skipped", reason },
    );
  }
  const patch = diffJson(original, withoutManagedFields(result.pod as Record<string, unknown>));
  if (patch.length === 0) {
    return answer({ allowed: true }, { result: "injected", reason: result.decision.reason, patchOps: 0 });
  }
  return answer(
    { allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(patch)).toString("base64") },
    { result: "injected", reason: result.decision.reason, patchOps: patch.length },
    patch,
  );
}
