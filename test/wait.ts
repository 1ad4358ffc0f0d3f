// Polling instead of fixed sleeps (no timing asserts): a slow CI host only costs time when it is actually slow.

/** Resolves once `check` holds; fails, naming `what`, after a generous deadline. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 30_000, everyMs = 20 } = {},
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await Bun.sleep(everyMs)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Whether `check` came to hold within `timeoutMs` (for tests that assert on the answer themselves). */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, everyMs = 10): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await Bun.sleep(everyMs)) {
    if (check()) return true;
  }
  return check();
}
