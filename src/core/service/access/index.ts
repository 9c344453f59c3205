/** Who acts (actors, request context), what they may do, and the one gate that refuses, audits and throws. */
export { LOCAL_CONTEXT, PERMISSIONS, actorLabel } from "./actor.ts";
export type { Actor, AnonymousActor, LocalActor, Permission, RequestContext, TokenActor } from "./actor.ts";
export { ownerMatches, parseOwnerPattern } from "./access.ts";
export { AccessGate, type DeniedEvent } from "./gate.ts";
export { RateLimiter, recentAuthentication } from "./guard.ts";
export type { LimitHit, ReauthDecision, ReauthHook } from "./guard.ts";
export { AuthGuard } from "./auth-guard.ts";
