// Kubernetes `Status` error bodies (metav1.Status) with the reasons and codes kube-apiserver uses,
// so clients that branch on `reason` (AlreadyExists, Conflict, Expired…) behave as against a
// real cluster.

export type StatusReason =
  | "BadRequest"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "Expired"
  | "Gone"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "InternalError"
  | "RequestEntityTooLarge"
  | "Forbidden"
  | "NotAcceptable";

const CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  Gone: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  InternalError: 500,
};

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason?: StatusReason;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: Array<{ field: string; message: string }>;
  };
  code: number;
}

/** Thrown inside request handling; the router turns it into a Status response. */
export class ApiError extends Error {
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusBody["details"],
  ) {
    super(message);
    this.name = "ApiError";
  }

  get code(): number {
    return CODES[this.reason];
  }

  toStatus(): StatusBody {
    return statusBody(this.reason, this.message, this.details);
  }
}

export function statusBody(
  reason: StatusReason,
  message: string,
  details?: StatusBody["details"],
): StatusBody {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code: CODES[reason],
  };
}

/** `pods "web" not found` — the message format kube-apiserver uses. */
export function notFound(resource: string, name: string, group = "", kind?: string): ApiError {
  const res = group ? `${resource}.${group}` : resource;
  return new ApiError("NotFound", `${res} "${name}" not found`, { name, group, kind: kind ?? resource });
}
