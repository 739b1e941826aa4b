// A user container named istio-proxy / istio-init / istio-validation overrides fields of the
// injected one, as in Istio (a strategic merge of the user's container over the template's):
// lists keyed by name (env, volumeMounts by mountPath, ports by containerPort) are merged,
// objects are merged recursively, everything else replaces. `image: auto` keeps the injected
// image.
import type { Container } from "kubernetes-types/core/v1.d.ts";
import { isObject } from "./config.ts";

const LIST_KEYS: Record<string, string> = {
  env: "name",
  envFrom: "",
  ports: "containerPort",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
};

export function mergeContainer(injected: Container, user: Container): Container {
  const out = { ...injected } as Record<string, unknown>;
  for (const [key, value] of Object.entries(user)) {
    if (key === "image" && value === "auto") continue;
    const base = out[key];
    const listKey = LIST_KEYS[key];
    if (listKey && Array.isArray(base) && Array.isArray(value)) {
      out[key] = listKey ? mergeList(base, value, listKey) : [...base, ...value];
    } else if (isObject(base) && isObject(value)) {
      out[key] = mergeObject(base, value);
    } else {
      out[key] = value;
    }
  }
  return out as unknown as Container;
}

/** `over` merged onto `base` recursively; anything but two objects is replaced. */
export function mergeObject(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeObject(b, v) : v;
  }
  return out;
}

function mergeList(base: unknown[], over: unknown[], key: string): unknown[] {
  const out = [...base];
  for (const item of over) {
    const id = isObject(item) ? item[key] : undefined;
    const at = id === undefined ? -1 : out.findIndex((b) => isObject(b) && b[key] === id);
    if (at >= 0) out[at] = mergeObject(out[at] as Record<string, unknown>, item as Record<string, unknown>);
    else out.push(item);
  }
  return out;
}
