// The image's HEALTHCHECK: GET /healthz on the server in this container. It reads the server's
// own command line (PID 1) for --host, --port (default 7300) and --tls-cert (then HTTPS, as with
// COFFER_TLS_CERT). Loopback only, so the certificate is not verified: this checks liveness,
// not the certificate (that is the clients' job).
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

let args = [];
try {
  args = readFileSync("/proc/1/cmdline", "utf8").split("\0");
} catch {
  // not Linux, or no /proc: the defaults
}
const after = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(after("--port") ?? "7300");
const listen = after("--host");
const host = listen === undefined || listen === "0.0.0.0" || listen === "::" ? "127.0.0.1" : listen;
const tls = after("--tls-cert") !== undefined || (process.env.COFFER_TLS_CERT ?? "") !== "";
const req = (tls ? httpsRequest : httpRequest)(
  { host, port, path: "/healthz", method: "GET", timeout: 4000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", (e) => {
  process.stderr.write(`healthcheck: ${e.message}\n`);
  process.exit(1);
});
req.end();
