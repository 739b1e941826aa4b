// Cooperative time slicing: long loops on the main thread call `maybeYield()` often; it gives the
// event loop a turn (I/O, timers, /healthz, xDS) once the current slice has run long enough.
export const SLICE_MS = 10;

export interface Slicer {
  maybeYield(): Promise<void>;
}

export function timeSlicer(sliceMs = SLICE_MS): Slicer {
  let start = performance.now();
  return {
    async maybeYield() {
      if (performance.now() - start < sliceMs) return;
      await new Promise<void>((r) => setImmediate(r));
      start = performance.now();
    },
  };
}
