// The parse worker's entry point: parses one YAML text per message and posts its chunks back in
// batches of about BATCH_BYTES of source, so the main thread takes each batch in its own turn.
import { parentPort } from "node:worker_threads";
import { configChunks } from "./chunks.ts";
import type { ParseJob, WorkerReply } from "./parse-protocol.ts";

const BATCH_BYTES = 256 * 1024;

const port = parentPort;
if (port) {
  port.on("message", (job: ParseJob) => {
    const post = (m: WorkerReply) => port.postMessage(m);
    try {
      let batch: WorkerReply & { kind: "chunks" } = { id: job.id, kind: "chunks", chunks: [] };
      let bytes = 0;
      const text =
        typeof job.text === "string"
          ? job.text
          : Buffer.from(job.text.buffer, job.text.byteOffset, job.text.byteLength).toString("utf8");
      for (const c of configChunks(text, job.limits)) {
        batch.chunks.push(c);
        bytes += c.bytes;
        if (bytes >= BATCH_BYTES) {
          post(batch);
          batch = { id: job.id, kind: "chunks", chunks: [] };
          bytes = 0;
        }
      }
      if (batch.chunks.length > 0) post(batch);
      post({ id: job.id, kind: "done" });
    } catch (err) {
      post({ id: job.id, kind: "error", message: err instanceof Error ? err.message : String(err) });
    }
  });
}
