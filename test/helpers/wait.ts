// Polling for end-to-end tests: wait for a condition on real peers instead of sleeping a guess.

/** Resolves once `pred` returns true; throws `timed out: <what>` after `timeoutMs`. */
export async function until(pred: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
