/** Admin-console sessions: cookie sign-in with a token, CSRF, expiry (docs/console.md). */
export { ConsoleSessions } from "./console-sessions.ts";
export type { ConsoleSessionPolicy, ResolvedSession, StartedSession } from "./console-sessions.ts";
