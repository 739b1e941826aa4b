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

/**
 * Service `s` and its `perService` Pods (labels `version: v0|v1` alternating), Pod `i` of the mesh
 * at 10.<1 + i/65000>.<i/250 mod 256>.<i mod 250>, on node `node-<i mod nodes>`.
 */
export function benchServiceWithPods(
  s: number,
  o: { namespaces: number; perService: number; nodes: number },
): { ns: string; name: string; objects: unknown[] } {
  const { ns, name, object } = benchService(s, o.namespaces);
  const objects = [object];
  for (let e = 0; e < o.perService; e++) {
    const i = s * o.perService + e;
    const ip = `10.${1 + Math.floor(i / 65000)}.${Math.floor(i / 250) % 256}.${i % 250}`;
    objects.push(
      benchPod(name, ns, e, ip, { labels: { version: `v${e % 2}` }, nodeName: `node-${i % o.nodes}` }),
    );
  }
  return { ns, name, objects };
}
