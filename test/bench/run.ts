// `npm run bench`: runs every `*.bench.ts` under test/bench in its own process, in name order,
// and passes their JSON lines through. A benchmark that fails is reported and makes the run fail.
// Usage: npm run bench [-- name-filter…]   (BENCH_SMOKE=1 for the reduced CI size)
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let failed = 0;
for (const file of files) {
  process.stderr.write(`# bench ${file}\n`);
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", join(here, file)], {
    stdio: ["ignore", "inherit", "inherit"],
    env: process.env,
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`# bench ${file} failed (exit ${r.status ?? r.signal})\n`);
  }
}
if (files.length === 0) process.stderr.write("# no benchmarks matched\n");
process.exitCode = failed ? 1 : 0;
