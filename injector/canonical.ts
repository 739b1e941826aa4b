// Istio's canonical service labels: the name from service.istio.io/canonical-name, else
// app.kubernetes.io/name, else app, else the workload's name; the revision from
// app.kubernetes.io/version, else version, else "latest". Pods (injection) and VMs
// (`remora vm bootstrap`) get them the same way.
import { CANONICAL_NAME, CANONICAL_REVISION } from "./annotations.ts";

/** Cuts a label value to 63 characters without leaving a trailing non-alphanumeric. */
export function truncateLabel(v: string): string {
  return v.length <= 63 ? v : v.slice(0, 63).replace(/[^A-Za-z0-9]+$/, "");
}

export function canonicalService(
  labels: Readonly<Record<string, string>>,
  workloadName: string,
): { name: string; revision: string } {
  return {
    name: truncateLabel(
      labels[CANONICAL_NAME] ?? labels["app.kubernetes.io/name"] ?? labels.app ?? workloadName,
    ),
    revision: labels[CANONICAL_REVISION] ?? labels["app.kubernetes.io/version"] ?? labels.version ?? "latest",
  };
}
