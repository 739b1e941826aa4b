// Mutating- and ValidatingWebhookConfiguration support for the fake API server, doing what
// kube-apiserver does: for each stored configuration (by name) and each webhook in it, match rules,
// namespaceSelector (the namespace's labels) and objectSelector (the object's labels); call the
// webhook over real TLS verified against its caBundle with the service's DNS name; honour
// timeoutSeconds and failurePolicy. Mutating webhooks apply the returned JSON patch and reinvoke
// `IfNeeded` webhooks once when a later webhook changed the object; validating webhooks run after
// all mutation, see the final object, and can only allow or deny. Service references resolve
// through a mapping the test provides.
import { randomUUID } from "node:crypto";
import { Agent, request } from "node:https";
import { applyPatch, type Operation } from "rfc6902";
import type { AdmissionAttributes, AdmissionResult } from "./admission.ts";
import type { FakeApiServer } from "./server.ts";
import type { KubeObject } from "./store.ts";

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Rule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

interface Webhook {
  name: string;
  clientConfig: {
    url?: string;
    service?: { namespace: string; name: string; path?: string; port?: number };
    caBundle?: string;
  };
  rules?: Rule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  failurePolicy?: "Fail" | "Ignore";
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
  reinvocationPolicy?: "Never" | "IfNeeded";
}

export interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
}

export interface WebhookCall {
  configuration: string;
  webhook: string;
  /** The AdmissionReview sent. */
  review: { request: { uid: string; object?: unknown } };
  /** The object before this webhook ran. */
  before: KubeObject | undefined;
  /** The object after its patch (when one was applied). */
  after?: KubeObject;
  patch?: Operation[];
  warnings?: string[];
  allowed?: boolean;
  error?: string;
  /** The call failed and failurePolicy Ignore let the request through. */
  ignored?: boolean;
  reinvocation: boolean;
}

export interface MutatingWebhooksOptions {
  /** Where a webhook Service is reachable from the test (e.g. 127.0.0.1 and the injector's port). */
  resolveService: (ref: ServiceRef) => { host: string; port: number } | undefined;
}

/** Does a Kubernetes LabelSelector match these labels? An empty selector matches everything. */
export function matchesSelector(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[e.key] as string)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[e.key] as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function ruleMatches(rules: Rule[] | undefined, a: AdmissionAttributes): boolean {
  const resource = a.subResource ? `${a.resource.plural}/${a.subResource}` : a.resource.plural;
  const any = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === "*" || x === v);
  return (rules ?? []).some(
    (r) =>
      any(r.operations, a.operation) &&
      any(r.apiGroups, a.resource.group) &&
      any(r.apiVersions, a.version) &&
      (r.resources ?? []).some(
        (x) => x === "*" || x === resource || (x === `${a.resource.plural}/*` && !!a.subResource),
      ) &&
      (r.scope === undefined ||
        r.scope === "*" ||
        (r.scope === "Namespaced" ? a.resource.namespaced : !a.resource.namespaced)),
  );
}

function labelsOf(o: unknown): Record<string, string> {
  const labels = (o as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata?.labels;
  return labels ?? {};
}

class WebhookError extends Error {}

/** Installs MutatingWebhookConfiguration support on `server`; returns the call log and a remover. */
export function installMutatingWebhooks(server: FakeApiServer, options: MutatingWebhooksOptions) {
  return installAdmissionWebhooks(server, "mutating", options);
}

/**
 * Installs ValidatingWebhookConfiguration support on `server` (its hooks run after every mutating
 * one, as in kube-apiserver); returns the call log and a remover.
 */
export function installValidatingWebhooks(server: FakeApiServer, options: MutatingWebhooksOptions) {
  return installAdmissionWebhooks(server, "validating", options);
}

function installAdmissionWebhooks(
  server: FakeApiServer,
  phase: "mutating" | "validating",
  options: MutatingWebhooksOptions,
) {
  const calls: WebhookCall[] = [];
  const agents = new Map<string, Agent>();

  const agentFor = (caPem: string) => {
    let a = agents.get(caPem);
    if (!a) {
      a = new Agent({ keepAlive: true, ca: caPem });
      agents.set(caPem, a);
    }
    return a;
  };

  const call = (hook: Webhook, review: unknown): Promise<Record<string, unknown>> => {
    const cc = hook.clientConfig;
    let host: string;
    let port: number;
    let path: string;
    let servername: string;
    if (cc.service) {
      const target = options.resolveService({ ...cc.service, port: cc.service.port ?? 443 });
      if (!target)
        return Promise.reject(
          new WebhookError(`service "${cc.service.namespace}/${cc.service.name}" not found`),
        );
      ({ host, port } = target);
      path = cc.service.path ?? "/";
      servername = `${cc.service.name}.${cc.service.namespace}.svc`;
    } else if (cc.url) {
      const u = new URL(cc.url);
      host = u.hostname;
      port = Number(u.port || 443);
      path = `${u.pathname}${u.search}`;
      servername = u.hostname;
    } else {
      return Promise.reject(new WebhookError("clientConfig has neither service nor url"));
    }
    const caPem = Buffer.from(cc.caBundle ?? "", "base64").toString("utf8");
    if (!caPem.includes("BEGIN CERTIFICATE")) {
      return Promise.reject(
        new WebhookError("x509: certificate signed by unknown authority (empty caBundle)"),
      );
    }
    const body = Buffer.from(JSON.stringify(review));
    const timeoutMs = (hook.timeoutSeconds ?? 10) * 1000;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          path,
          method: "POST",
          servername,
          agent: agentFor(caPem),
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "content-length": body.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 200) {
              reject(
                new WebhookError(`the server responded with HTTP ${res.statusCode}: ${text.slice(0, 200)}`),
              );
              return;
            }
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new WebhookError("the response is not JSON"));
            }
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new WebhookError("context deadline exceeded")), timeoutMs);
      req.on("error", (err) => {
        clearTimeout(timer);
        reject(err instanceof WebhookError ? err : new WebhookError(err.message));
      });
      req.end(body);
    });
  };

  const runOne = async (
    configuration: string,
    hook: Webhook,
    attrs: AdmissionAttributes,
    object: KubeObject | undefined,
    reinvocation: boolean,
  ): Promise<{ object: KubeObject | undefined; changed: boolean } | { denied: string; code?: number }> => {
    const versions = hook.admissionReviewVersions ?? ["v1"];
    const version = versions.find((v) => v === "v1" || v === "v1beta1");
    const entry: WebhookCall = {
      configuration,
      webhook: hook.name,
      review: { request: { uid: "" } },
      before: object,
      reinvocation,
    };
    calls.push(entry);
    const fail = (message: string) => {
      entry.error = message;
      if ((hook.failurePolicy ?? "Fail") === "Ignore") {
        entry.ignored = true;
        return { object, changed: false };
      }
      return {
        denied: `Internal error occurred: failed calling webhook "${hook.name}": ${message}`,
        code: 500,
      };
    };
    if (!version) return fail(`none of the admissionReviewVersions ${JSON.stringify(versions)} is supported`);
    const gvk = { group: attrs.resource.group, version: attrs.version, kind: attrs.resource.kind };
    const gvr = { group: attrs.resource.group, version: attrs.version, resource: attrs.resource.plural };
    const review = {
      apiVersion: `admission.k8s.io/${version}`,
      kind: "AdmissionReview",
      request: {
        uid: randomUUID(),
        kind: gvk,
        resource: gvr,
        requestKind: gvk,
        requestResource: gvr,
        ...(attrs.subResource ? { subResource: attrs.subResource } : {}),
        name: attrs.name,
        ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
        operation: attrs.operation,
        userInfo: { username: "fake-admin", groups: ["system:masters", "system:authenticated"] },
        object: object ?? null,
        oldObject: attrs.oldObject ?? null,
        dryRun: attrs.dryRun,
        options: {
          apiVersion: "meta.k8s.io/v1",
          kind: `${attrs.operation === "CREATE" ? "Create" : attrs.operation === "UPDATE" ? "Update" : "Delete"}Options`,
        },
      },
    };
    entry.review = review;
    let answer: Record<string, unknown>;
    try {
      answer = await call(hook, review);
    } catch (err) {
      return fail((err as Error).message);
    }
    const response = answer.response as Record<string, unknown> | undefined;
    if (answer.apiVersion !== review.apiVersion || answer.kind !== "AdmissionReview" || !response) {
      return fail(`expected response.apiVersion ${review.apiVersion} and kind AdmissionReview`);
    }
    if (response.uid !== review.request.uid) return fail(`expected response.uid="${review.request.uid}"`);
    if (Array.isArray(response.warnings)) entry.warnings = response.warnings as string[];
    entry.allowed = response.allowed === true;
    if (response.allowed !== true) {
      const status = (response.status ?? {}) as { message?: string; code?: number };
      return {
        denied: `admission webhook "${hook.name}" denied the request: ${status.message ?? "without explanation"}`,
        ...(status.code ? { code: status.code } : {}),
      };
    }
    // A validating webhook cannot change the object; kube-apiserver ignores any patch it sends.
    if (phase === "validating" || response.patch === undefined) return { object, changed: false };
    if (response.patchType !== "JSONPatch")
      return fail(`unsupported patchType ${String(response.patchType)}`);
    let patch: Operation[];
    try {
      patch = JSON.parse(Buffer.from(String(response.patch), "base64").toString("utf8"));
    } catch {
      return fail("the patch is not base64-encoded JSON");
    }
    const next = structuredClone(object) as KubeObject;
    const errors = applyPatch(next, patch).filter((e) => e !== null);
    if (errors.length) return fail(`failed to apply the patch: ${errors.map((e) => e?.message).join("; ")}`);
    entry.patch = patch;
    entry.after = next;
    return { object: next, changed: JSON.stringify(next) !== JSON.stringify(object) };
  };

  const hook = async (attrs: AdmissionAttributes): Promise<AdmissionResult> => {
    const configs = server
      .objects("admissionregistration.k8s.io", `${phase}webhookconfigurations`)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    let nsLabels: Record<string, string> = {};
    if (attrs.resource.group === "" && attrs.resource.plural === "namespaces")
      nsLabels = labelsOf(attrs.object);
    else if (attrs.namespace) {
      nsLabels = labelsOf(server.store.get("/namespaces", undefined, attrs.namespace));
    }
    let object = attrs.object;
    // `after`: how many changes had been made once this webhook had run.
    const invoked: { configuration: string; hook: Webhook; after: number }[] = [];
    let changes = 0;
    for (const cfg of configs) {
      for (const wh of (cfg.webhooks ?? []) as Webhook[]) {
        if (!ruleMatches(wh.rules, attrs)) continue;
        if (attrs.resource.namespaced || attrs.resource.plural === "namespaces") {
          if (!matchesSelector(wh.namespaceSelector, nsLabels)) continue;
        }
        // The object selector is matched against the new object and, on updates, the old one.
        const objectMatches =
          (object !== undefined && matchesSelector(wh.objectSelector, labelsOf(object))) ||
          (attrs.oldObject !== undefined && matchesSelector(wh.objectSelector, labelsOf(attrs.oldObject)));
        if (!objectMatches) continue;
        const r = await runOne(cfg.metadata.name, wh, attrs, object, false);
        if ("denied" in r) return r;
        if (r.changed) {
          object = r.object;
          changes++;
        }
        invoked.push({ configuration: cfg.metadata.name, hook: wh, after: changes });
      }
    }
    // Reinvocation: an IfNeeded webhook runs once more when a later webhook changed the object.
    for (const inv of invoked) {
      if (inv.hook.reinvocationPolicy !== "IfNeeded" || changes <= inv.after) continue;
      const r = await runOne(inv.configuration, inv.hook, attrs, object, true);
      if ("denied" in r) return r;
      if (r.changed) object = r.object;
    }
    return object === attrs.object ? undefined : object;
  };

  const remove = server.onAdmission(phase, hook);
  return {
    calls,
    remove() {
      remove();
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
  };
}
