// telemetry.istio.io Telemetry rules, after istiod's ValidateTelemetry: the policy scope, provider
// references, tracing (one tracing entry with one provider is what Istio supports, sampling
// percentage, custom tags), metric tag overrides and access-log filters (CEL expressions, parsed
// as istiod parses them: syntax only, attributes are not type-checked).
import { parse as parseCel } from "@marcbachmann/cel-js";
import { asArr, asNum, asObj, asStr, type Findings, type Json } from "./findings.ts";
import { fieldPath } from "./schema.ts";
import { checkPolicyScope } from "./security.ts";

export const TM = {
  SELECTOR: "TM0001",
  PROVIDER: "TM0002",
  TRACING: "TM0003",
  METRICS: "TM0004",
  FILTER: "TM0005",
} as const;

const present = (v: unknown) => v !== undefined && v !== null;

function checkProviders(f: Findings, path: string, providers: unknown): void {
  asArr(providers).forEach((p, i) => {
    if (!asStr(asObj(p).name))
      f.error(
        TM.PROVIDER,
        `${path}[${i}].name`,
        "providers.name may not be empty; name a meshConfig extension provider",
      );
  });
}

function checkTracing(f: Findings, tracing: unknown[]): void {
  if (tracing.length > 1)
    f.warn(
      TM.TRACING,
      "spec.tracing",
      "several tracing entries are not supported; Istio applies only the first",
    );
  tracing.forEach((raw, i) => {
    const t = asObj(raw);
    const path = `spec.tracing[${i}]`;
    if (asArr(t.providers).length > 1)
      f.warn(
        TM.TRACING,
        `${path}.providers`,
        "several tracing providers are not supported; Istio uses only the first",
      );
    checkProviders(f, `${path}.providers`, t.providers);
    const pct = asNum(t.randomSamplingPercentage);
    if (pct !== undefined && (pct < 0 || pct > 100))
      f.error(
        TM.TRACING,
        `${path}.randomSamplingPercentage`,
        `randomSamplingPercentage ${pct} must be in the range 0.0 to 100.0`,
      );
    if (!present(t.customTags)) return;
    for (const [name, tag] of Object.entries(asObj(t.customTags))) {
      const p = fieldPath(`${path}.customTags`, name);
      if (name === "") f.error(TM.TRACING, p, "a custom tag name may not be empty");
      if (!present(tag)) {
        f.error(
          TM.TRACING,
          p,
          `custom tag ${JSON.stringify(name)} has no value; set literal, environment or header`,
        );
        continue;
      }
      const o = asObj(tag);
      if (present(o.literal) && !asStr(asObj(o.literal).value))
        f.error(TM.TRACING, `${p}.literal.value`, "a literal tag value may not be empty");
      if (present(o.header) && !asStr(asObj(o.header).name))
        f.error(TM.TRACING, `${p}.header.name`, "a header tag needs the header's name");
      if (present(o.environment) && !asStr(asObj(o.environment).name))
        f.error(TM.TRACING, `${p}.environment.name`, "an environment tag needs the variable's name");
    }
  });
}

function checkMetrics(f: Findings, metrics: unknown[]): void {
  metrics.forEach((raw, i) => {
    const m = asObj(raw);
    const path = `spec.metrics[${i}]`;
    checkProviders(f, `${path}.providers`, m.providers);
    asArr(m.overrides).forEach((rawO, j) => {
      const op = `${path}.overrides[${j}]`;
      if (!present(rawO)) {
        f.error(TM.METRICS, op, "an override may not be null");
        return;
      }
      const o = asObj(rawO);
      for (const [name, rawT] of Object.entries(asObj(o.tagOverrides))) {
        const tp = fieldPath(`${op}.tagOverrides`, name);
        if (name === "") f.warn(TM.METRICS, tp, "a tag override needs the tag's name");
        if (!present(rawT)) {
          f.error(TM.METRICS, tp, "a tag override may not be null");
          continue;
        }
        const t = asObj(rawT);
        const value = asStr(t.value) ?? "";
        if ((asStr(t.operation) ?? "UPSERT") === "UPSERT") {
          if (value === "")
            f.error(TM.METRICS, `${tp}.value`, "value must be set when operation is UPSERT (the default)");
        } else if (value !== "")
          f.error(TM.METRICS, `${tp}.value`, "value may only be set when operation is UPSERT; remove it");
      }
      const match = asObj(o.match);
      if (present(match.customMetric) && asStr(match.customMetric) === "")
        f.error(TM.METRICS, `${op}.match.customMetric`, "customMetric may not be empty");
    });
  });
}

function checkAccessLogging(f: Findings, logging: unknown[]): void {
  logging.forEach((raw, i) => {
    const l = asObj(raw);
    const path = `spec.accessLogging[${i}]`;
    if (present(l.filter)) {
      const expr = asStr(asObj(l.filter).expression) ?? "";
      try {
        parseCel(expr);
      } catch (err) {
        const why = (err as Error).message.split("\n")[0];
        f.error(
          TM.FILTER,
          `${path}.filter.expression`,
          `${JSON.stringify(expr)} is not a valid CEL expression: ${why}`,
        );
      }
    }
    checkProviders(f, `${path}.providers`, l.providers);
  });
}

export function validateTelemetry(f: Findings, spec: Json): void {
  checkPolicyScope(f, TM.SELECTOR, spec);
  checkMetrics(f, asArr(spec.metrics));
  checkTracing(f, asArr(spec.tracing));
  checkAccessLogging(f, asArr(spec.accessLogging));
}
