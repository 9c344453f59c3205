export { buildServer, redactUrl } from "./app.ts";
export type { ServerOptions } from "./app.ts";
export { serve, serverLogger } from "./serve.ts";
export type { ServeOptions, RunningServer } from "./serve.ts";
export { Metrics } from "./metrics.ts";
export { HTTP_STATUS } from "./problem.ts";
