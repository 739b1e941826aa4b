// Public surface of validation: single objects, YAML streams and the admission entry point.
export { DR } from "./destination-rule.ts";
export { EF } from "./envoy-filter.ts";
export { type FailClosedForm, failClosedForm } from "./fail-closed.ts";
export { GW } from "./gateway.ts";
export { parseDuration, re2Problem } from "./primitives.ts";
export { PC } from "./proxy-config.ts";
export { SCHEMA_TYPE, SCHEMA_UNKNOWN_FIELD } from "./schema.ts";
export { AP, PA, RA } from "./security.ts";
export { SE } from "./service-entry.ts";
export { SC } from "./sidecar.ts";
export { TM } from "./telemetry.ts";
export {
  isIstioGroupObject,
  sortDiagnostics,
  type ValidateOptions,
  validateAdmissionObject,
  validateDocuments,
  validateObject,
} from "./validate.ts";
export { VS } from "./virtual-service.ts";
export { isJwtClaimHeader } from "./virtual-service-http.ts";
export { WP } from "./wasm-plugin.ts";
export { WE, WG } from "./workload-entry.ts";
