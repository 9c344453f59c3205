// The image's HEALTHCHECK: GET /healthz on the server in this container (port 7300, the
// image's default), over HTTPS when COFFER_TLS_CERT is set. Loopback only, so the certificate is
// not verified: this checks liveness, not the certificate (that is the clients' job).
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const tls = (process.env.COFFER_TLS_CERT ?? "") !== "";
const req = (tls ? httpsRequest : httpRequest)(
  { host: "127.0.0.1", port: 7300, path: "/healthz", method: "GET", timeout: 4000, rejectUnauthorized: false },
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
