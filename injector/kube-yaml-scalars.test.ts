// Plain scalars as Kubernetes reads them (goyaml.v2 through sigs.k8s.io/yaml): one row per case,
// with the result goyaml.v2's resolver gives and the JSON value the API server then sees.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKubeYaml, stringifyKubeYaml } from "./kube-yaml.ts";
import { jsonKey, resolvePlainScalar } from "./kube-yaml-scalars.ts";

type Want = string | number | bigint | boolean | null | { error: RegExp };

// [plain scalar, value after YAML → JSON, why]
const CASES: Array<[string, Want, string]> = [
  [".", ".", "a lone dot is not a float (strconv.ParseFloat fails): exportTo: [.]"],
  ["..", "..", "not a number"],
  [".5", 0.5, "leading-dot float"],
  [".5e3", 500, "leading-dot float with exponent"],
  [".e5", ".e5", "no digits before the exponent"],
  [".inf", { error: /infinite/ }, "+Inf has no JSON form"],
  [".Inf", { error: /infinite/ }, "+Inf has no JSON form"],
  [".INF", { error: /infinite/ }, "+Inf has no JSON form"],
  ["+.inf", { error: /infinite/ }, "+Inf has no JSON form"],
  ["-.Inf", { error: /infinite/ }, "-Inf has no JSON form"],
  [".nan", { error: /NaN/ }, "NaN has no JSON form"],
  [".NaN", { error: /NaN/ }, "NaN has no JSON form"],
  [".NAN", { error: /NaN/ }, "NaN has no JSON form"],
  [".Nan", ".Nan", "not one of the spellings goyaml knows"],
  [".inF", ".inF", "not one of the spellings goyaml knows"],
  ["1:20", "1:20", "no sexagesimal integers"],
  ["190:20:30.15", "190:20:30.15", "no sexagesimal floats"],
  ["12:30:00", "12:30:00", "times stay strings"],
  ["2001-12-14", "2001-12-14", "timestamps stay strings"],
  ["2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00", "timestamps stay strings"],
  ["y", true, "YAML 1.1 boolean"],
  ["Y", true, "YAML 1.1 boolean"],
  ["yes", true, "YAML 1.1 boolean"],
  ["n", false, "YAML 1.1 boolean"],
  ["N", false, "YAML 1.1 boolean"],
  ["no", false, "YAML 1.1 boolean"],
  ["on", true, "YAML 1.1 boolean"],
  ["On", true, "YAML 1.1 boolean"],
  ["OFF", false, "YAML 1.1 boolean"],
  ["True", true, "boolean"],
  ["yEs", "yEs", "mixed case is a string"],
  ["oN", "oN", "mixed case is a string"],
  ["~", null, "null"],
  ["null", null, "null"],
  ["Null", null, "null"],
  ["NULL", null, "null"],
  ["nULL", "nULL", "mixed case is a string"],
  ["0644", 420, "leading zero: octal"],
  ["-0644", -420, "signed octal"],
  ["0o17", 15, "Go's 0o prefix"],
  ["0O17", 15, "Go's 0O prefix"],
  ["0x1F", 31, "hexadecimal"],
  ["-0x1f", -31, "signed hexadecimal"],
  ["0b101", 5, "binary"],
  ["-0b101", -5, "signed binary"],
  ["08", 8, "not octal, so goyaml's float pattern reads it (a float 8)"],
  ["09.5", 9.5, "float with a leading zero"],
  ["1_000", 1000, "underscores are dropped"],
  ["0x_1F", 31, "underscores are dropped after a prefix too"],
  ["+12", 12, "plus sign"],
  ["1e3", 1000, "exponent without a dot"],
  ["1.5e3", 1500, "exponent without a sign"],
  ["1.5E-3", 0.0015, "negative exponent"],
  ["6.8523015e+5", 685230.15, "YAML 1.1 float"],
  ["1.", 1, "trailing dot"],
  ["+.5", 0.5, "signed leading-dot float"],
  ["1.2.3", "1.2.3", "version strings stay strings"],
  ["0.5.5", "0.5.5", "not a number"],
  ["1e400", "1e400", "out of float range: stays a string"],
  ["1e-400", 0, "underflow is zero"],
  ["9007199254740993", 9007199254740993n, "int64 beyond 2^53 keeps every digit"],
  ["18446744073709551615", 18446744073709551615n, "the largest uint64"],
  ["123456789012345678901", Number("123456789012345678901"), "beyond uint64 a decimal is a float"],
  ["0x1FFFFFFFFFFFFFFFFF", BigInt("0x1FFFFFFFFFFFFFFFFF"), "beyond uint64 a hex number is a big integer"],
  ["+", "+", "a sign alone"],
  ["-a", "-a", "a dash and a letter"],
  ["0x", "0x", "a prefix alone"],
  ["1_", 1, "a trailing underscore is dropped"],
  ["_1", "_1", "a leading underscore makes a string"],
  ["=", "=", "the YAML 1.1 value key is a string"],
  ["<<x", "<<x", "a string"],
  ["0.", 0, "zero with a trailing dot"],
  ["00", 0, "octal zero"],
];

const readPlain = (text: string) => parseKubeYaml(`v: ${text}\n`)[0];

for (const [text, want, why] of CASES) {
  test(`plain scalar ${JSON.stringify(text)}: ${why}`, () => {
    const doc = readPlain(text);
    if (want !== null && typeof want === "object") {
      assert.equal(doc?.value, undefined);
      assert.match(doc?.errors.join("\n") ?? "", want.error);
      assert.match(doc?.errors[0] ?? "", /^line 1: /);
      return;
    }
    assert.deepEqual(doc?.errors, []);
    assert.deepEqual((doc?.value as { v: unknown } | undefined)?.v, want);
    // Whatever a string is, writing it back must keep it a string for Kubernetes.
    if (typeof want === "string") {
      const back = parseKubeYaml(stringifyKubeYaml({ v: want }))[0]?.value as { v: unknown };
      assert.equal(back.v, want, `written as ${stringifyKubeYaml({ v: want }).trim()}`);
    }
  });
}

test("quoted and block scalars are always strings", () => {
  const doc = parseKubeYaml("a: '0644'\nb: \"y\"\nc: |\n  1e3\nd: !!str 12\n")[0];
  assert.deepEqual(doc?.value, { a: "0644", b: "y", c: "1e3\n", d: "12" });
});

test("mapping keys become JSON strings as sigs.k8s.io/yaml writes them", () => {
  const doc = parseKubeYaml("y: a\nn: b\n0644: c\n1e3: d\n1.5: e\n.inf: f\n1e6: g\n0.1: h\n")[0];
  assert.deepEqual(doc?.errors, []);
  assert.deepEqual(doc?.value, {
    true: "a",
    false: "b",
    "420": "c",
    "1000": "d",
    "1.5": "e",
    ".inf": "f",
    "1e+06": "g",
    "0.1": "h",
  });
  assert.equal(jsonKey(1.23456789), "1.2345679");
  assert.equal(jsonKey(123456), "123456");
  assert.equal(jsonKey(0.00001), "1e-05");
});

test("a null mapping key is an error on its line", () => {
  const doc = parseKubeYaml("a: 1\n~: 2\n")[0];
  assert.equal(doc?.value, undefined);
  assert.match(doc?.errors[0] ?? "", /^line 2: a mapping key is empty or null/);
});

test("a NaN inside a list names its line", () => {
  const doc = parseKubeYaml("spec:\n  values:\n  - 1\n  - .nan\n")[0];
  assert.match(doc?.errors[0] ?? "", /^line 4: ".nan" is NaN/);
});

test("exportTo: [.] is a list of one string", () => {
  const doc = parseKubeYaml("spec:\n  exportTo: [.]\n  hosts: [.]\n")[0];
  assert.deepEqual(doc?.value, { spec: { exportTo: ["."], hosts: ["."] } });
});

test("a __proto__ key is plain data", () => {
  const doc = parseKubeYaml("__proto__: {polluted: true}\n")[0];
  const v = doc?.value as Record<string, unknown>;
  assert.deepEqual(Object.keys(v), ["__proto__"]);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
});

test("the resolver alone, for callers that classify text", () => {
  assert.deepEqual(resolvePlainScalar("."), { type: "str" });
  assert.deepEqual(resolvePlainScalar("0o17"), { type: "int", value: 15n });
  assert.deepEqual(resolvePlainScalar("1e3"), { type: "float", value: 1000 });
});
