// Large YAML files are parsed on a worker thread: parsing 12 MB takes seconds of CPU, which on
// the main thread would stall xDS and /healthz. The worker is started on first use, parses one
// text at a time, streams the chunks back in batches (each taken by the main thread in its own
// turn), and exits after a few idle seconds, returning its heap. A heap limit bounds what one
// hostile file can cost; a worker that dies fails only the file it was parsing.
import { Worker, type WorkerOptions } from "node:worker_threads";
import type { KubeYamlLimits } from "../../injector/index.ts";
import type { ConfigChunk } from "./chunks.ts";
import type { ParseJob, WorkerReply } from "./parse-protocol.ts";

/** Old-generation heap of the worker; a file needing more is refused. */
export const PARSE_WORKER_HEAP_MB = 512;
const IDLE_EXIT_MS = 5_000;

type Event =
  | { kind: "chunks"; chunks: ConfigChunk[] }
  | { kind: "done" }
  | { kind: "error"; message: string };

/** A small async queue: the worker pushes events, the reader awaits them. */
class Channel {
  private readonly events: Event[] = [];
  private wake: (() => void) | undefined;
  push(e: Event): void {
    this.events.push(e);
    this.wake?.();
    this.wake = undefined;
  }
  async next(): Promise<Event> {
    while (this.events.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.events.shift() as Event;
  }
}

/**
 * The worker: compiled, parse-worker.js next to this file; from source (tsx), a small script that
 * loads parse-worker.ts through tsx's API, because Node 20 applies no loader to a worker's entry.
 */
function newWorker(options: WorkerOptions): Worker {
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./parse-worker.js", import.meta.url), options);
  const entry = new URL("./parse-worker.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then((api) => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(boot, { ...options, eval: true });
}

interface Running {
  worker: Worker;
  jobs: Map<number, Channel>;
}

let current: Running | undefined;
let nextId = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

function failAll(r: Running, message: string): void {
  for (const ch of r.jobs.values()) ch.push({ kind: "error", message });
  r.jobs.clear();
}

function startWorker(): Running {
  const worker = newWorker({
    resourceLimits: { maxOldGenerationSizeMb: PARSE_WORKER_HEAP_MB },
    stdout: false,
    stderr: false,
  });
  worker.unref();
  const r: Running = { worker, jobs: new Map() };
  worker.on("message", (m: WorkerReply) => {
    const ch = r.jobs.get(m.id);
    if (!ch) return;
    if (m.kind !== "chunks") r.jobs.delete(m.id);
    ch.push(m);
    if (r.jobs.size === 0 && current === r) scheduleIdleExit();
  });
  // A dead worker fails only its own jobs; the next parse starts a fresh one.
  const died = (why: string) => {
    if (current === r) current = undefined;
    failAll(r, why);
  };
  worker.on("error", (err: Error & { code?: string }) =>
    died(
      err.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? `parsing it needs more than the parser's ${PARSE_WORKER_HEAP_MB} MB memory budget; split it into smaller files`
        : `the YAML parser failed: ${err.message}`,
    ),
  );
  worker.on("exit", (code) => died(`the YAML parser exited (code ${code})`));
  return r;
}

function scheduleIdleExit(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    const r = current;
    if (!r || r.jobs.size > 0) return;
    current = undefined;
    void r.worker.terminate();
  }, IDLE_EXIT_MS);
  idleTimer.unref();
}

/**
 * Parses `text` on the worker; yields batches of chunks; throws when the worker fails. A Buffer
 * that owns its memory is moved to the worker, not copied, and is unusable afterwards.
 */
export async function* parseOnWorker(
  text: string | Buffer,
  limits: KubeYamlLimits,
): AsyncGenerator<ConfigChunk[]> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  current ??= startWorker();
  const r = current;
  const id = ++nextId;
  const ch = new Channel();
  r.jobs.set(id, ch);
  const job: ParseJob = { id, text, limits };
  // Buffers below the pool size may share their memory with others: those are copied.
  const movable = typeof text !== "string" && text.byteLength >= Buffer.poolSize && text.byteOffset === 0;
  r.worker.postMessage(job, movable ? [text.buffer as ArrayBuffer] : []);
  try {
    for (;;) {
      const e = await ch.next();
      if (e.kind === "chunks") yield e.chunks;
      else if (e.kind === "done") return;
      else throw new Error(e.message);
    }
  } finally {
    // A reader that stops early no longer wants the rest of this job.
    r.jobs.delete(id);
    if (r.jobs.size === 0 && current === r) scheduleIdleExit();
  }
}

/** Stops the worker now (tests; the process never waits for it anyway). */
export async function stopParseWorker(): Promise<void> {
  const r = current;
  current = undefined;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!r) return;
  failAll(r, "the YAML parser was stopped");
  await r.worker.terminate();
}
