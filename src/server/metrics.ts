import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The server's Prometheus metrics. Labels are route templates, methods, status codes and
 * error codes: never an owner, a key name, a token or a value.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly kekConfigured = new Gauge({
    name: "kek_configured",
    help: "1 when the keyring loaded and the active key passed its wrap/unwrap self-test at boot",
    registers: [this.registry],
  });
  readonly decryptFailures = new Counter({
    name: "coffer_decrypt_failures_total",
    help: "Ciphertexts that did not authenticate or parse (DECRYPT_FAILED, CIPHERTEXT_MALFORMED)",
    registers: [this.registry],
  });
  readonly reveals = new Counter({
    name: "coffer_reveals_total",
    help: "Plaintext values returned, by path: api (one secret), owner (coffer run), share (one-time link)",
    labelNames: ["via"],
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: "coffer_denials_total",
    help: "Requests refused by authentication, authorization, re-auth or rate limits, by error code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: "coffer_http_request_duration_seconds",
    help: "HTTP request latency by route template, method and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly rotationDone = new Gauge({
    name: "coffer_rotation_scope_keys_done",
    help: "Scope keys rewrapped by the running (or last) KEK rotation job",
    registers: [this.registry],
  });
  readonly rotationTotal = new Gauge({
    name: "coffer_rotation_scope_keys_total",
    help: "Scope keys the running (or last) KEK rotation job has to rewrap",
    registers: [this.registry],
  });
  readonly rotations = new Counter({
    name: "coffer_kek_rotations_total",
    help: "KEK rotations this server finished that moved to a new active kid, by trigger (auto: the due policy) and whether it minted the key",
    labelNames: ["auto", "minted"],
    registers: [this.registry],
  });
  readonly rotationFailures = new Counter({
    name: "coffer_kek_rotation_failures_total",
    help: "KEK rotations this server started that failed, by trigger",
    labelNames: ["auto"],
    registers: [this.registry],
  });
  readonly autoRotationChecks = new Counter({
    name: "coffer_kek_auto_rotation_checks_total",
    help: "Automatic-rotation checks by outcome: not_due, rotated, other_server (another server holds the lock), cannot_mint, failed",
    labelNames: ["outcome"],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "coffer_" });
  }
}
