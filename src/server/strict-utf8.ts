import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import { CofferError } from "../core/errors/index.ts";

/**
 * Text that reaches the service must be exactly what the client sent: Fastify decodes bodies
 * and URLs leniently (invalid UTF-8 becomes U+FFFD), which would store something other than
 * what was written. These checks refuse such requests before any route runs. `isUtf8` (Node's
 * validator) refuses overlong forms, lone or CESU-encoded surrogates and stray bytes, as a
 * fatal `TextDecoder` does, without a decoder and a string per request body.
 */

export function invalidEncoding(field: "body" | "url"): CofferError {
  return new CofferError("INVALID_INPUT", `${field}: must be valid UTF-8`, { field });
}

/** Percent-decodes a URL to bytes (never throws); a malformed escape is left as it is. */
function urlBytes(url: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    const hex = c === 0x25 ? url.slice(i + 1, i + 3) : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(url[i] ?? "", "utf8")) out.push(b);
    }
  }
  return Uint8Array.from(out);
}

/**
 * Replaces the JSON body parser with one that refuses bytes that are not UTF-8 (then parses
 * with Fastify's own, prototype-poisoning-safe parser), and refuses a URL (path or query) whose
 * percent-escapes decode to invalid UTF-8. Both answer 400 `INVALID_INPUT` (`field`: `body` or
 * `url`) before any route runs, so nothing is written.
 */
export function registerStrictUtf8(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    if (!isUtf8(bytes)) {
      done(invalidEncoding("body"), undefined);
      return;
    }
    void parseJson(req, bytes.toString("utf8"), done);
  });
  app.addHook("onRequest", (req, _reply, done) => {
    const url = req.raw.url ?? "";
    done(url.includes("%") && !isUtf8(urlBytes(url)) ? invalidEncoding("url") : undefined);
  });
}
