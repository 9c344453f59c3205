export { loadConfig, defaultHome, KNOWN_ENV, LOG_LEVELS } from "./load-config.ts";
export type { Config, ConfigSources, RateLimit, ServerSettings } from "./load-config.ts";
