// Kubernetes objects for benchmark meshes: service `svc-<s>` (ports http 8080, grpc 9090) in
// namespace `ns-<s mod namespaces>`, and the running, ready Pods that back it.

export function benchService(s: number, namespaces: number): { ns: string; name: string; object: unknown } {
  const ns = `ns-${s % namespaces}`;
  const name = `svc-${s}`;
  const object = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: {
      clusterIP: `10.96.${Math.floor(s / 250)}.${s % 250}`,
      selector: { app: name },
      ports: [
        { name: "http", port: 8080 },
        { name: "grpc", port: 9090 },
      ],
    },
  };
  return { ns, name, object };
}

/** Replica `e` of service `name`, ready at `ip`, with `app: name` plus `labels`. */
export function benchPod(
  name: string,
  ns: string,
  e: number,
  ip: string,
  opts: { labels?: Record<string, string>; nodeName: string },
): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `${name}-${e}`, namespace: ns, labels: { app: name, ...opts.labels } },
    spec: { nodeName: opts.nodeName, containers: [{ name: "app", image: "x" }] },
    status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: "True" }] },
  };
}
