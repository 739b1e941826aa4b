// Public surface of pilot/autoregistration: VM auto-registration (WorkloadEntries created for
// proxies that connect with a WorkloadGroup's identity, removed after a grace period) and their
// health from the VM's Envoy checking the group's probe.
export {
  AutoRegistration,
  type AutoRegistrationLogger,
  type AutoRegistrationOptions,
  type RegistrationConn,
  RegistrationError,
} from "./controller.ts";
export { ApiCallError, type EntryStore, kubeEntryStore } from "./entry-store.ts";
export {
  describeCheck,
  type GroupProbe,
  groupProbe,
  healthCheckSpecifier,
  healthClusterName,
  verdictOf,
} from "./health-check.ts";
export { type HealthReport, HealthStatusWriter } from "./health-status.ts";
export {
  ANNOTATIONS,
  AUTO_REGISTER_GROUP,
  entryName,
  type WorkloadEntryObject,
  type WorkloadGroupObject,
  workloadEntryFromGroup,
} from "./workload-entry.ts";
