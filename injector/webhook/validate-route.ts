// `/validate`: the validating-webhook shape around a validation function supplied from outside
// (the control plane checks Istio config; the injector itself knows nothing about it). The review
// envelope is checked by the same parser as `/inject`; body limit, content type and malformed JSON
// are refused by the shared fastify app before this runs.
import { type AdmissionVersion, parseReviewEnvelope, shorten } from "./admission.ts";

export interface ValidationVerdict {
  allowed: boolean;
  message?: string;
  warnings?: string[];
}

export type ValidateFn = (object: unknown) => ValidationVerdict;

export type ValidationAnswer =
  | { httpStatus: 200; body: { apiVersion: AdmissionVersion; kind: "AdmissionReview"; response: unknown } }
  | { httpStatus: 400; body: { error: string; message: string } };

/** The warning every review gets when the embedding process supplied no validation function. */
export const VALIDATION_NOT_CONFIGURED =
  "remora-validator: validation is not configured in this process; the object was not checked";

/**
 * Answers one decoded AdmissionReview for `/validate`. Without `validate` everything is allowed
 * with a warning (so a stray ValidatingWebhookConfiguration cannot block config writes). DELETE is
 * always allowed: there is no new object, and refusing to delete a bad object helps nobody.
 */
export function answerValidation(body: unknown, validate: ValidateFn | undefined): ValidationAnswer {
  const envelope = parseReviewEnvelope(body);
  if ("problem" in envelope) {
    return { httpStatus: 400, body: { error: "Bad Request", message: envelope.problem } };
  }
  const { version, request, uid } = envelope;
  let verdict: ValidationVerdict;
  if (request.operation === "DELETE" || request.object === undefined || request.object === null) {
    verdict = { allowed: true };
  } else if (!validate) {
    verdict = { allowed: true, warnings: [VALIDATION_NOT_CONFIGURED] };
  } else {
    try {
      verdict = validate(request.object);
    } catch (err) {
      verdict = {
        allowed: false,
        message: `remora-validator: internal error while validating: ${(err as Error).message}`,
      };
    }
  }
  const response: Record<string, unknown> = { uid, allowed: verdict.allowed === true };
  if (verdict.warnings?.length) response.warnings = verdict.warnings.map(shorten);
  if (verdict.allowed !== true) {
    response.status = {
      metadata: {},
      status: "Failure",
      code: 400,
      reason: "Invalid",
      message: verdict.message ?? "remora-validator: the object is invalid",
    };
  }
  return { httpStatus: 200, body: { apiVersion: version, kind: "AdmissionReview", response } };
}
