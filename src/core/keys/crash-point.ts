/**
 * Named points in a KEK rotation where a crash must leave a consistent state. Tests install a
 * hook (which SIGKILLs its own process) through {@link setCrashHook} from a test-only entry
 * point (`test/fixtures/crash-at.ts`); nothing in the shipped CLI or server calls it, and no
 * environment variable, flag or request can reach it, so in production `crashPoint` is a no-op.
 */
export type CrashPoint = "key-written" | "key-recorded" | "key-activated" | "mid-rewrap";

let hook: ((point: CrashPoint) => void) | null = null;

/** Test seam: called synchronously at each crash point. */
export function setCrashHook(fn: ((point: CrashPoint) => void) | null): void {
  hook = fn;
}

export function crashPoint(point: CrashPoint): void {
  hook?.(point);
}
