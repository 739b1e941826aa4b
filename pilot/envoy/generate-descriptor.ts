// Builds the protobufjs descriptor JSON for every Envoy v3 API proto shipped in
// @grpc/grpc-js-xds's deps/, so the runtime can encode and check resources against
// Envoy's real schema without parsing .proto files at start-up.
// Run by `npm run gen:protos` (and by `prepare`, so `npm ci` leaves it in place).
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const xdsPkg = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const protobufPkg = dirname(require.resolve("protobufjs/package.json"));
const deps = join(xdsPkg, "deps");
// The vendored protoc-gen-validate predates some envoy-api options (string ignore_empty);
// protobufjs tolerates that, so the vendored copy is used as is.
const includeDirs = [
  join(deps, "envoy-api"),
  join(deps, "xds"),
  join(deps, "googleapis"),
  join(deps, "protoc-gen-validate"),
  protobufPkg,
];

function listProtos(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listProtos(p));
    else if (name.endsWith(".proto")) out.push(p);
  }
  return out;
}

function findInclude(target: string): string | undefined {
  for (const dir of includeDirs) {
    const candidate = join(dir, target);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next include directory
    }
  }
  return undefined;
}

// A few vendored v3 protos import files that grpc-js-xds does not ship (opencensus,
// opentelemetry, some contrib); keep only files whose whole import closure is present.
function loadable(file: string, memo: Map<string, boolean>): boolean {
  const known = memo.get(file);
  if (known !== undefined) return known;
  memo.set(file, true); // cycles are resolved optimistically
  const path = findInclude(file);
  let ok = path !== undefined;
  if (path) {
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) {
      const dep = m[1] as string;
      if (dep.startsWith("google/protobuf/")) continue;
      if (!loadable(dep, memo)) {
        ok = false;
        break;
      }
    }
  }
  memo.set(file, ok);
  return ok;
}

export function buildDescriptor(): Record<string, unknown> {
  const envoyRoot = join(deps, "envoy-api");
  // Only the v3 API: the v2 protos in the tree import files that are not vendored.
  const files = listProtos(join(envoyRoot, "envoy"))
    .map((f) => relative(envoyRoot, f))
    .filter((f) => /\/v3\//.test(f));
  const memo = new Map<string, boolean>();
  const usable = files.filter((f) => loadable(f, memo));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => findInclude(target) ?? target;
  root.loadSync(usable, { keepCase: true, alternateCommentMode: false });
  root.resolveAll();
  return root.toJSON({ keepComments: false }) as Record<string, unknown>;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = join(here, "generated", "envoy-descriptor.json");
  mkdirSync(dirname(out), { recursive: true });
  const json = JSON.stringify(buildDescriptor());
  writeFileSync(out, json);
  console.log(`wrote ${relative(process.cwd(), out)} (${(json.length / 1024).toFixed(0)} KiB)`);
}
