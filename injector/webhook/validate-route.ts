// `/validate`: the validating-webhook shape around a validation function supplied from outside
// (the control plane checks Istio config; the injector itself knows nothing about it).
import { ADMISSION_VERSIONS, type AdmissionVersion } from "./admission.ts";

export interface ValidationVerdict {
  allowed: boolean;
  message?: string;
  warnings?: string[];
}

export type ValidateFn = (object: unknown) => ValidationVerdict;

export type ValidationAnswer =
  | { httpStatus: 200; body: Record<string, unknown> }
  | { httpStatus: 400; body: { error: string; message: string } };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function answerValidation(body: unknown, validate: ValidateFn): ValidationAnswer {
  const bad = (message: string): ValidationAnswer => ({
    httpStatus: 400,
    body: { error: "Bad Request", message },
  });
  if (!isRecord(body) || body.kind !== "AdmissionReview") return bad("the body must be an AdmissionReview");
  if (!ADMISSION_VERSIONS.includes(body.apiVersion as AdmissionVersion)) {
    return bad("apiVersion must be admission.k8s.io/v1 or admission.k8s.io/v1beta1");
  }
  const request = body.request;
  if (!isRecord(request) || typeof request.uid !== "string" || request.uid === "") {
    return bad("request.uid must be a non-empty string");
  }
  let verdict: ValidationVerdict;
  try {
    // Deletes carry no object; there is nothing to validate.
    verdict =
      request.object === undefined || request.object === null ? { allowed: true } : validate(request.object);
  } catch (err) {
    verdict = { allowed: false, message: `validation failed: ${(err as Error).message}` };
  }
  const response: Record<string, unknown> = { uid: request.uid, allowed: verdict.allowed };
  if (verdict.warnings?.length) response.warnings = verdict.warnings;
  if (!verdict.allowed) {
    response.status = {
      metadata: {},
      status: "Failure",
      code: 400,
      reason: "Invalid",
      message: verdict.message ?? "invalid",
    };
  }
  return { httpStatus: 200, body: { apiVersion: body.apiVersion, kind: "AdmissionReview", response } };
}
