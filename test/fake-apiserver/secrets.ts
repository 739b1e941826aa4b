// What kube-apiserver and its token controller do to Secrets on write: `stringData` is folded
// into base64 `data` (stringData wins for a key in both), and a `kubernetes.io/service-account-token`
// Secret naming an existing ServiceAccount gets `token`, `ca.crt` and `namespace` filled in (the
// real controller does it moments later; here it happens on the write).
import { randomBytes } from "node:crypto";
import type { KubeObject, Store } from "./store.ts";

export const SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token";
const SA_NAME_ANNOTATION = "kubernetes.io/service-account.name";

export function prepareSecret(store: Store, obj: KubeObject, caCert: string | undefined): void {
  const secret = obj as KubeObject & {
    type?: string;
    data?: Record<string, string>;
    stringData?: Record<string, string>;
  };
  if (secret.stringData) {
    secret.data = { ...(secret.data ?? {}) };
    for (const [k, v] of Object.entries(secret.stringData)) {
      secret.data[k] = Buffer.from(String(v), "utf8").toString("base64");
    }
    delete secret.stringData;
  }
  if (secret.type !== SERVICE_ACCOUNT_TOKEN || secret.data?.token) return;
  const ns = obj.metadata.namespace ?? "default";
  const sa = (obj.metadata.annotations as Record<string, string> | undefined)?.[SA_NAME_ANNOTATION];
  if (!sa || !store.get("/serviceaccounts", ns, sa)) return;
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  secret.data = {
    ...(secret.data ?? {}),
    token: b64(`fake-sa-token.${ns}.${sa}.${randomBytes(12).toString("hex")}`),
    namespace: b64(ns),
    ...(caCert ? { "ca.crt": b64(caCert) } : {}),
  };
}
