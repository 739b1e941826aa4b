// Guards the architecture: a source folder may reach into another only through that folder's
// public surface (`index.ts`, `cli.ts` for command registration, `defaults.ts` for shared defaults),
// and only along the allowed dependency edges, so the layers stay acyclic.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/cli.ts";

const AREAS = ["pilot", "injector", "init-iptables", "cni-plugin"] as const;
type Area = (typeof AREAS)[number];

/** Which areas each area may import from (besides itself). */
const ALLOWED: Record<Area, Area[]> = {
  "init-iptables": [],
  "cni-plugin": ["injector", "init-iptables"],
  injector: ["init-iptables"],
  pilot: ["cni-plugin", "injector", "init-iptables"],
};
// index.ts is the public surface; cli.ts registers commands; defaults.ts is the import-free table
// of shared defaults (so option registration can read it without loading the area).
const PUBLIC_FILES = new Set(["index.ts", "cli.ts", "defaults.ts"]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "generated" || name === "testdata") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

function areaOf(path: string): Area | undefined {
  const first = relative(REPO_ROOT, path).split(sep)[0];
  return AREAS.find((a) => a === first);
}

test("folders import each other only through index.ts/cli.ts along allowed edges", () => {
  const problems: string[] = [];
  for (const area of AREAS) {
    for (const file of sourceFiles(join(REPO_ROOT, area))) {
      // Tests may use any helper in test/; sources may not import test code.
      const isTest = file.endsWith(".test.ts");
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
      )) {
        const spec = m[1] ?? m[2];
        if (!spec?.startsWith(".")) continue;
        const target = resolve(file, "..", spec);
        const rel = relative(REPO_ROOT, target);
        const where = `${relative(REPO_ROOT, file)} imports ${spec}`;
        if (rel.startsWith(`test${sep}`)) {
          if (!isTest) problems.push(`${where}: source files must not import test/`);
          continue;
        }
        const targetArea = areaOf(target);
        if (!targetArea || targetArea === area) continue;
        if (isTest) continue;
        if (!ALLOWED[area].includes(targetArea)) {
          problems.push(`${where}: ${area} may not depend on ${targetArea}`);
        } else if (!PUBLIC_FILES.has(relative(join(REPO_ROOT, targetArea), target))) {
          problems.push(`${where}: import ${targetArea}/index.ts (its public surface) instead`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});
