// Where the time of one push goes, from the source change to the last write: source read and
// conversion, debounce wait and snapshot build (reported by whoever builds snapshots, as
// SourceTiming), then translation (full or patched), the serving gate, resource encoding and the
// per-connection diff and write (measured by the server). Always on: a few clock reads per
// translation and per connection, no allocation per resource.
import type { Histogram } from "prom-client";
import type { SourceTiming } from "../model/snapshot.ts";

/** Per-push totals, as shown in /debug/push_status. Milliseconds, rounded to 0.01. */
export interface PushStages {
  sourceMs?: number;
  debounceMs?: number;
  buildMs?: number;
  /** Translations made in full, and their time (without the gate and encoding). */
  translated: number;
  translateMs: number;
  /** Configs made by patching the previous translation's load assignments. */
  patched: number;
  patchMs: number;
  /** Serving gate: strict schema, references and regexes of what was translated. */
  gateMs: number;
  /** Hashing and encoding resources (shared across connections, once per content). */
  encodeMs: number;
  /** Diffing against what each connection holds, framing and writing. */
  writeMs: number;
  /** Connections written to. */
  written: number;
  /** From the change (or publication) until the first and the last connection was written. */
  firstWriteMs?: number;
  lastWriteMs?: number;
  /** Set when every queued push of this snapshot was written (or a newer snapshot replaced it). */
  done: boolean;
}

/** Istio-named and Remora stage histograms (see metrics.ts). */
export interface StageMetrics {
  debounceTime: Histogram;
  buildTime: Histogram;
  stageTime: Histogram<"stage">;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The stage accounting of one snapshot's push. */
export class PushAccount {
  readonly stages: PushStages = {
    translated: 0,
    translateMs: 0,
    patched: 0,
    patchMs: 0,
    gateMs: 0,
    encodeMs: 0,
    writeMs: 0,
    written: 0,
    done: false,
  };
  /** Epoch ms the writes are measured from: the source change when known, else publication. */
  readonly origin: number;

  constructor(
    timing: SourceTiming | undefined,
    publishedAt: number,
    private readonly metrics: StageMetrics,
  ) {
    this.origin = timing?.changedAt ?? publishedAt;
    if (timing) {
      this.stages.sourceMs = round(timing.sourceMs);
      this.stages.debounceMs = round(timing.debounceMs);
      this.stages.buildMs = round(timing.buildMs);
      metrics.debounceTime.observe(timing.debounceMs / 1000);
      metrics.buildTime.observe(timing.buildMs / 1000);
      metrics.stageTime.observe({ stage: "source" }, timing.sourceMs / 1000);
      metrics.stageTime.observe({ stage: "debounce" }, timing.debounceMs / 1000);
      metrics.stageTime.observe({ stage: "build" }, timing.buildMs / 1000);
    }
  }

  /** One config made for this push: in full (translate, gate, encode) or by patching. */
  made(kind: "translated" | "patched", ms: { translate: number; gate: number; encode: number }): void {
    if (this.stages.done) return;
    const s = this.stages;
    if (kind === "translated") {
      s.translated++;
      s.translateMs += ms.translate;
    } else {
      s.patched++;
      s.patchMs += ms.translate;
    }
    s.gateMs += ms.gate;
    s.encodeMs += ms.encode;
  }

  /** One connection's diff and write. */
  wrote(ms: number, at: number): void {
    if (this.stages.done) return;
    const s = this.stages;
    s.writeMs += ms;
    s.written++;
    const since = round(Math.max(0, at - this.origin));
    s.firstWriteMs ??= since;
    s.lastWriteMs = since;
  }

  /** Closes the account: totals rounded and observed once per push. */
  finish(): void {
    const s = this.stages;
    if (s.done) return;
    s.done = true;
    const m = this.metrics.stageTime;
    m.observe({ stage: "translate" }, s.translateMs / 1000);
    m.observe({ stage: "patch" }, s.patchMs / 1000);
    m.observe({ stage: "gate" }, s.gateMs / 1000);
    m.observe({ stage: "encode" }, s.encodeMs / 1000);
    m.observe({ stage: "write" }, s.writeMs / 1000);
    s.translateMs = round(s.translateMs);
    s.patchMs = round(s.patchMs);
    s.gateMs = round(s.gateMs);
    s.encodeMs = round(s.encodeMs);
    s.writeMs = round(s.writeMs);
  }
}
