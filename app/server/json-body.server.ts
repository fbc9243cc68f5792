import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { jsonError } from "./api-errors.server.ts";

/** No legitimate API body nests this deep; far deeper bodies overflow the stack of JSON.stringify downstream. */
export const MAX_JSON_DEPTH = 128;

/** Whether `raw` nests arrays and objects deeper than `limit`, counting brackets outside strings only. */
export function jsonDepthExceeds(raw: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // a backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      depth++;
      if (depth > limit) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
}

class BodyRefused extends Error {
  readonly type = "entity.refused";
  readonly status = 400;
}

/**
 * JSON bodies for the REST adapter, parsed at the edge: the size limit (413), a nesting limit (400, before
 * anything recurses over the value),
 * `application/json; charset=utf-8` accepted like plain `application/json` (the adapter alone silently
 * dropped such bodies), other charsets refused (415). The parsed value lands in `req.body`, which
 * trpc-to-openapi uses as is.
 */
export function jsonBody({ limitBytes }: { limitBytes: number }): RequestHandler[] {
  const parse = express.json({
    limit: limitBytes,
    strict: false,
    type: (req) => /^application\/json\s*(;|$)/i.test(String(req.headers["content-type"] ?? "")),
    verify: (_req, _res, raw) => {
      if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) {
        throw new BodyRefused(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
    },
  });
  const onParseError: ErrorRequestHandler = (error, _req, res, next) => {
    switch (error?.type) {
      case "entity.too.large":
        return jsonError(res, 413, "PAYLOAD_TOO_LARGE", `Request body too large (limit ${limitBytes} bytes)`);
      case "entity.parse.failed":
        return jsonError(res, 400, "PARSE_ERROR", "The request body is not valid JSON");
      case "entity.refused":
        return jsonError(res, 400, "BAD_REQUEST", String(error.message));
      case "charset.unsupported":
      case "encoding.unsupported":
        return jsonError(res, 415, "UNSUPPORTED_MEDIA_TYPE", String(error.message));
      case "request.aborted":
      case "request.size.invalid":
        return jsonError(res, 400, "BAD_REQUEST", "The request body was incomplete");
      default:
        return next(error);
    }
  };
  return [parse, onParseError as unknown as RequestHandler];
}
