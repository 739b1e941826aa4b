// Freezes a value and everything under it, so a test can prove a function never mutates its input
// (a write to a frozen object throws in ES modules, which are strict).

export function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
