import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKubeYaml, stringifyKubeYaml } from "./kube-yaml.ts";

test("reads YAML 1.1 the way Kubernetes does", () => {
  const [doc] = parseKubeYaml(
    "a: on\nb: 0644\nc: 2001-12-14t21:59:43.10-05:00\nd: 12:30:00\ne: 9223372036854775809\n",
  );
  assert.deepEqual(doc?.value, {
    a: true,
    b: 420,
    c: "2001-12-14t21:59:43.10-05:00",
    d: "12:30:00",
    e: 9223372036854775809n,
  });
});

test("writes strings that YAML 1.1 would misread with quotes, and big integers intact", () => {
  const out = stringifyKubeYaml({
    a: "on",
    b: "0644",
    c: "y",
    d: 18446744073709551615n,
    e: "0o17",
    f: "1e3",
  });
  const [doc] = parseKubeYaml(out);
  assert.deepEqual(doc?.value, { a: "on", b: "0644", c: "y", d: 18446744073709551615n, e: "0o17", f: "1e3" });
});

test("refuses an alias bomb with a clear error on that document", () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
    "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  ].join("\n");
  const [doc] = parseKubeYaml(`x: 1\n---\n${bomb}\n`).slice(1);
  assert.equal(doc?.value, undefined);
  assert.match(doc?.errors[0] ?? "", /alias/);
});

test("refuses input over the size bound", () => {
  assert.throws(() => parseKubeYaml("a: 1\n".repeat(100), { maxBytes: 50 }), /over the 50-byte limit/);
});

test("strings other readers take for timestamps or sexagesimal numbers are written quoted", () => {
  const out = stringifyKubeYaml({ a: "2001-12-14", b: "1:20", c: ".", d: "1.2.3" });
  assert.equal(out, 'a: "2001-12-14"\nb: "1:20"\nc: .\nd: 1.2.3\n');
  assert.deepEqual(parseKubeYaml(out)[0]?.value, { a: "2001-12-14", b: "1:20", c: ".", d: "1.2.3" });
});
