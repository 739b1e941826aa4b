// The JSON types of the Pod fields the injection engine reads. The API server decodes a pod into
// its typed struct before calling webhooks, so it never sends `containers: "x"` or `env: {}`; a
// body that does was not produced by an API server and is refused as a bad request, naming the
// field, before the engine sees it. pod-shape.test.ts keeps this list and the engine in step: it
// retypes every field of a fully populated pod and fails for any field the engine reads that is
// not checked here.

type Shape =
  | "string"
  | "number"
  | "boolean"
  | "object"
  | "int-or-string"
  /** A resource quantity: `500m`, `1Gi`, or a plain number. */
  | "number-or-string"
  | { array: Shape }
  | { map: Shape }
  | { fields: Record<string, Shape>; required?: string[] };

const stringList: Shape = { array: "string" };
const probe: Shape = {
  fields: {
    httpGet: {
      fields: {
        path: "string",
        port: "int-or-string",
        host: "string",
        scheme: "string",
        // Probe rewriting copies every header into the sidecar's bootstrap.
        httpHeaders: { array: { fields: { name: "string", value: "string" }, required: ["name", "value"] } },
      },
    },
    tcpSocket: { fields: { port: "int-or-string", host: "string" } },
    grpc: { fields: { port: "number", service: "string" } },
    exec: { fields: { command: stringList } },
    initialDelaySeconds: "number",
    periodSeconds: "number",
    timeoutSeconds: "number",
    failureThreshold: "number",
    successThreshold: "number",
  },
};
const handler: Shape = {
  fields: {
    httpGet: { fields: { path: "string", port: "int-or-string", host: "string", scheme: "string" } },
    tcpSocket: { fields: { port: "int-or-string", host: "string" } },
    exec: { fields: { command: stringList } },
  },
};
const container: Shape = {
  fields: {
    name: "string",
    image: "string",
    command: stringList,
    args: stringList,
    ports: {
      array: { fields: { name: "string", containerPort: "number", protocol: "string", hostPort: "number" } },
    },
    env: { array: { fields: { name: "string", value: "string", valueFrom: "object" }, required: ["name"] } },
    envFrom: { array: "object" },
    volumeMounts: { array: { fields: { name: "string", mountPath: "string", readOnly: "boolean" } } },
    readinessProbe: probe,
    livenessProbe: probe,
    startupProbe: probe,
    lifecycle: { fields: { postStart: handler, preStop: handler } },
    securityContext: {
      fields: {
        runAsUser: "number",
        runAsGroup: "number",
        runAsNonRoot: "boolean",
        capabilities: { fields: { add: stringList, drop: stringList } },
      },
    },
    // A user's istio-proxy container is merged into the injected one, resources included.
    resources: { fields: { requests: { map: "number-or-string" }, limits: { map: "number-or-string" } } },
    restartPolicy: "string",
  },
  required: ["name"],
};

const POD: Shape = {
  fields: {
    metadata: {
      fields: {
        name: "string",
        generateName: "string",
        namespace: "string",
        labels: { map: "string" },
        annotations: { map: "string" },
        ownerReferences: {
          array: { fields: { apiVersion: "string", kind: "string", name: "string", controller: "boolean" } },
        },
      },
    },
    spec: {
      fields: {
        containers: { array: container },
        initContainers: { array: container },
        ephemeralContainers: { array: "object" },
        volumes: { array: { fields: { name: "string" } } },
        imagePullSecrets: { array: { fields: { name: "string" } } },
        hostNetwork: "boolean",
        serviceAccountName: "string",
        securityContext: { fields: { runAsUser: "number", runAsGroup: "number", fsGroup: "number" } },
      },
      required: ["containers"],
    },
  },
  required: ["spec"],
};

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "list" : typeof v === "object" ? "object" : typeof v;
}

/** A shape mismatch: the path segments from the mismatch up to the root (built only on failure,
 * so the common valid pod allocates no path strings), and the message once the path is known. */
interface Mismatch {
  segments: string[];
  message: (path: string) => string;
}

function mismatch(message: (path: string) => string, segment?: string): Mismatch {
  return { segments: segment === undefined ? [] : [segment], message };
}

function check(shape: Shape, v: unknown): Mismatch | undefined {
  if (typeof shape === "string") {
    const ok =
      shape === "object"
        ? typeName(v) === "object"
        : shape === "int-or-string"
          ? typeof v === "string" || Number.isInteger(v)
          : shape === "number-or-string"
            ? typeof v === "string" || typeof v === "number"
            : typeof v === shape;
    return ok
      ? undefined
      : mismatch(
          (path) => `${path} must be ${shape === "object" ? "an object" : `a ${shape}`}, not ${typeName(v)}`,
        );
  }
  if ("array" in shape) {
    if (!Array.isArray(v)) return mismatch((path) => `${path} must be a list, not ${typeName(v)}`);
    for (let i = 0; i < v.length; i++) {
      const p = check(shape.array, v[i]);
      if (p) {
        p.segments.push(`[${i}]`);
        return p;
      }
    }
    return undefined;
  }
  if (typeName(v) !== "object") return mismatch((path) => `${path} must be an object, not ${typeName(v)}`);
  const o = v as Record<string, unknown>;
  if ("map" in shape) {
    for (const k in o) {
      const p = check(shape.map, o[k]);
      if (p) {
        p.segments.push(`.${k}`);
        return p;
      }
    }
    return undefined;
  }
  for (const r of shape.required ?? [])
    if (o[r] === undefined || o[r] === null) return mismatch((path) => `${path}.${r} is required`);
  for (const k in shape.fields) {
    // JSON null means "unset" for optional fields, as in the API server's decoder.
    const x = o[k];
    if (x === undefined || x === null) continue;
    const p = check(shape.fields[k] as Shape, x);
    if (p) {
      p.segments.push(`.${k}`);
      return p;
    }
  }
  return undefined;
}

/** The first field of `obj` whose JSON type is not what a Pod has there, or undefined. */
export function podShapeProblem(obj: unknown): string | undefined {
  const p = check(POD, obj);
  return p?.message(`request.object${p.segments.reverse().join("")}`);
}
