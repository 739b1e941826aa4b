// Golden tests for the planner: each folder under testdata/plan holds the arguments, environment
// and runtime facts of one case (in.yaml) and the planned rules as restore text (out.rules).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { assertGolden, goldenCases } from "../test/helpers/golden.ts";
import { parseCaptureArgs } from "./parse-args.ts";
import { planRules } from "./plan.ts";
import { renderPlan } from "./render.ts";

const DIR = join(import.meta.dirname, "testdata", "plan");

interface CaseInput {
  args: string[];
  env?: Record<string, string>;
  runtime?: { ipv6?: boolean; dnsServersV4?: string[]; dnsServersV6?: string[] };
}

for (const name of goldenCases(DIR)) {
  test(`plan golden: ${name}`, () => {
    const input = parse(readFileSync(join(DIR, name, "in.yaml"), "utf8")) as CaseInput;
    const parsed = parseCaptureArgs(input.args, input.env ?? {});
    if (parsed.errors) throw new Error(parsed.errors.join("\n"));
    const cfg = {
      ...parsed.config,
      ipv6: input.runtime?.ipv6 ?? false,
      dnsServersV4: input.runtime?.dnsServersV4 ?? [],
      dnsServersV6: input.runtime?.dnsServersV6 ?? [],
    };
    assertGolden(join(DIR, name, "out.rules"), renderPlan(planRules(cfg)));
  });
}
