// Messages between the reader and its parse worker.
import type { KubeYamlLimits } from "../../injector/index.ts";
import type { ConfigChunk } from "./chunks.ts";

export interface ParseJob {
  id: number;
  /** The text, or its UTF-8 bytes (moved to the worker, not copied) to decode there. */
  text: string | Uint8Array;
  limits: KubeYamlLimits;
}

export type WorkerReply =
  | { id: number; kind: "chunks"; chunks: ConfigChunk[] }
  | { id: number; kind: "done" }
  | { id: number; kind: "error"; message: string };
