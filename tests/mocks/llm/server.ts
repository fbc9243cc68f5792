/**
 * Mock LLM provider: one HTTP server that speaks the OpenAI Chat Completions and the Anthropic
 * Messages wire protocols (JSON and SSE streams, tool calls, usage, errors), driven by built-in
 * scenarios and scripts. The official SDKs work against it unchanged:
 *
 *   const mock = await startMockLlm();
 *   new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: "mock" });       // model "echo", "demo", "tools", ...
 *   new Anthropic({ baseURL: mock.url, apiKey: "mock" });
 *   mock.script("agent", [{ toolCalls: [{ name: "read", arguments: { path: "a.ts" } }] }, { reply: "Done." }]);
 *   // ...requests with header `x-mock-script: agent` or model `script:agent` pop one step each
 *   await mock.waitFor((requests) => requests.some((r) => r.clientClosed));
 *   await mock.close();
 *
 * Scenario selection, first match: header `x-mock-script` / model `script:<id>`; header
 * `x-mock-scenario: <name>` / `x-mock-step: <JSON ScriptStep>`; the model name (unknown → echo).
 * See scenarios.ts for the built-in scenarios. Control API for other processes (not recorded):
 * `POST /_mock/scripts {id, steps}`, `GET /_mock/requests` → `{requests}`, `POST /_mock/reset`.
 *
 * Built for the benchmark too: Nagle off, every SSE event pre-serialised and written with a single
 * `res.write`, nothing logged (pass `onRequest` to observe requests, as the CLI does).
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  renderAnthropicError,
  renderAnthropicJson,
  renderAnthropicModel,
  renderAnthropicModels,
  renderAnthropicStream,
  summarizeAnthropicRequest,
  validateAnthropicRequest,
} from "./anthropic-protocol.ts";
import {
  openAiStatus,
  renderOpenAiError,
  renderOpenAiJson,
  renderOpenAiModel,
  renderOpenAiModels,
  renderOpenAiStream,
  summarizeOpenAiRequest,
  validateOpenAiRequest,
} from "./openai-protocol.ts";
import {
  BUILTIN_SCENARIOS,
  type CompletionPlan,
  type Conversation,
  errorPlan,
  isBuiltinScenario,
  type Plan,
  type PlanContext,
  parseScriptStep,
  planScenario,
  planStep,
  type ScriptStep,
  type StreamScript,
} from "./scenarios.ts";

export type { ScriptStep } from "./scenarios.ts";
export { BUILTIN_SCENARIOS } from "./scenarios.ts";

export type RecordedRequest = {
  seq: number;
  protocol: "openai" | "anthropic";
  method: string;
  /** without the query string */
  path: string;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** parsed JSON body; the raw text when it is not JSON; null when empty */
  body: unknown;
  model: string | null;
  stream: boolean;
  /** built-in scenario name, `script:<id>`, `step` (x-mock-step), `models`, or `rejected` (auth, validation, 404) */
  scenario: string;
  /** HTTP status sent; 0 while no status line has been sent (stall-before, drop) */
  status: number;
  startedAt: number;
  endedAt: number | null;
  /** the client closed the connection before the response was complete (proves upstream abort) */
  clientClosed: boolean;
};

export type MockLlm = {
  /** http://127.0.0.1:<port> — OpenAI base URL = `${url}/v1`, Anthropic base URL = url */
  url: string;
  port: number;
  /** every request so far, oldest first (control API calls excluded; at most `maxRecorded`) */
  requests: RecordedRequest[];
  /** register a script: requests naming it pop one step each, in order (replaces a script of that id) */
  script(id: string, steps: ScriptStep[]): void;
  /** wait until `predicate(requests)` holds (polls every 5 ms; rejects after timeoutMs, default 5000) */
  waitFor(predicate: (requests: RecordedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  /** clears requests, scripts and counters */
  reset(): void;
  /** closes the server and all sockets */
  close(): Promise<void>;
};

export type MockLlmOptions = {
  /** default 0 (a free port) */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** when set, any other key → 401 (both protocols) */
  apiKey?: string;
  /** what GET /v1/models lists */
  models?: string[];
  /**
   * keep at most this many requests in `requests`, dropping the oldest (default 10,000; 0 keeps none,
   * e.g. for the app's in-process demo model, which would otherwise hold every body forever)
   */
  maxRecorded?: number;
  /** called once per request, when its response is complete or its connection closed */
  onRequest?: (request: RecordedRequest) => void;
};

export const DEFAULT_MODELS = ["echo", "demo", "tools", "slow", "gpt-4.1-mini", "claude-sonnet-4-5"];

/** 2025-01-01T00:00:00Z, the `created` of every listed model. */
const MODEL_CREATED = 1_735_689_600;

type Exchange = {
  rec: RecordedRequest;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  closed: boolean;
  /** the server destroyed the socket on purpose (drop): not a client close */
  dropped: boolean;
  timer: NodeJS.Timeout | null;
};

type Script = { steps: ScriptStep[]; next: number };

const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";
const JSON_CONTENT_TYPE = "application/json";
const EMPTY = Buffer.alloc(0);

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in headers) {
    const value = headers[key];
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export async function startMockLlm(options: MockLlmOptions = {}): Promise<MockLlm> {
  const host = options.host ?? "127.0.0.1";
  const apiKey = options.apiKey;
  const models = options.models ?? DEFAULT_MODELS;
  const onRequest = options.onRequest;
  const maxRecorded = Math.max(0, options.maxRecorded ?? 10_000);
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, Script>();
  const sockets = new Set<Socket>();
  let seq = 0;
  let toolSeq = 0;
  let closing = false;
  const openAiContext: PlanContext = { protocol: "openai", nextToolId: () => `call_${++toolSeq}` };
  const anthropicContext: PlanContext = { protocol: "anthropic", nextToolId: () => `toolu_${++toolSeq}` };

  function reset(): void {
    requests.length = 0;
    scripts.clear();
    seq = 0;
    toolSeq = 0;
  }

  function registerScript(id: string, steps: ScriptStep[]): void {
    if (typeof id !== "string" || id === "") throw new Error("a script needs a non-empty id");
    if (!Array.isArray(steps)) throw new Error("steps must be an array");
    const checked = steps.map((step, index) => {
      try {
        return parseScriptStep(step);
      } catch (error) {
        throw new Error(`step ${index}: ${(error as Error).message}`);
      }
    });
    scripts.set(id, { steps: checked, next: 0 });
  }

  // -------------------------------------------------------------------------------------------
  // Responses

  function requestIdHeaders(ex: Exchange): Record<string, string> {
    const id = `req_mock${ex.rec.seq}`;
    return ex.rec.protocol === "anthropic" ? { "request-id": id } : { "x-request-id": id };
  }

  function sendJson(ex: Exchange, status: number, body: string, extra?: Record<string, string>): void {
    if (ex.closed) return;
    ex.rec.status = status;
    ex.res.writeHead(status, {
      "content-type": JSON_CONTENT_TYPE,
      "content-length": Buffer.byteLength(body),
      ...requestIdHeaders(ex),
      ...extra,
    });
    ex.res.end(body);
  }

  function sendError(ex: Exchange, status: number, message: string, retryAfter: number | null = null): void {
    const extra: Record<string, string> = {};
    if (retryAfter !== null) {
      extra["retry-after"] = String(retryAfter);
      extra["retry-after-ms"] = String(Math.round(retryAfter * 1000));
    }
    if (ex.rec.protocol === "anthropic") {
      sendJson(ex, status, renderAnthropicError(status, message, `req_mock${ex.rec.seq}`), extra);
    } else {
      const sent = openAiStatus(status);
      sendJson(ex, sent, renderOpenAiError(sent, message), extra);
    }
  }

  /** Destroys the socket once what was written so far has reached the kernel (writes are corked until nextTick). */
  function drop(ex: Exchange): void {
    ex.dropped = true;
    const socket = ex.req.socket;
    if (ex.rec.status === 0) socket.destroy();
    else socket.write(EMPTY, () => socket.destroy());
  }

  function stream(ex: Exchange, script: StreamScript, plan: CompletionPlan): void {
    ex.rec.status = 200;
    const res = ex.res;
    res.writeHead(200, {
      "content-type": SSE_CONTENT_TYPE,
      "cache-control": "no-cache",
      ...requestIdHeaders(ex),
    });
    const { events, isChunk } = script;
    const delayMs = plan.delayMs;
    const fault = plan.fault;
    const faultAt = fault ? fault.afterChunks : -1;
    let i = 0;
    let chunks = 0;
    let waited = false;
    const applyFault = () => {
      if (!fault || fault.type === "stall") return; // leave the response open until the client leaves
      if (fault.type === "drop") drop(ex);
      else res.end(script.malformedEvent);
    };
    const run = (): void => {
      ex.timer = null;
      if (ex.closed) return;
      while (i < events.length) {
        if (isChunk[i]) {
          if (chunks === faultAt) {
            applyFault();
            return;
          }
          if (delayMs > 0 && chunks > 0 && !waited) {
            waited = true;
            ex.timer = setTimeout(run, delayMs);
            return;
          }
          waited = false;
          chunks++;
        }
        if (!res.write(events[i++])) {
          res.once("drain", run);
          return;
        }
      }
      if (fault) applyFault();
      else res.end();
    };
    run();
  }

  function respondJson(ex: Exchange, plan: CompletionPlan, body: string): void {
    const fault = plan.fault;
    if (fault?.type === "drop") {
      drop(ex);
      return;
    }
    if (fault?.type === "malformed") {
      sendJson(ex, 200, '{"choices": [tru');
      return;
    }
    if (fault?.type === "stall") {
      ex.rec.status = 200;
      ex.res.writeHead(200, {
        "content-type": JSON_CONTENT_TYPE,
        "content-length": Buffer.byteLength(body),
        ...requestIdHeaders(ex),
      });
      ex.res.write(body.slice(0, 16));
      return;
    }
    let chunks = plan.text.length;
    for (const call of plan.toolCalls) chunks += call.pieces.length;
    const wait = plan.delayMs * Math.max(0, chunks - 1);
    if (wait > 0) ex.timer = setTimeout(() => sendJson(ex, 200, body), wait);
    else sendJson(ex, 200, body);
  }

  function respondPlan(ex: Exchange, plan: Plan, body: Record<string, unknown>): void {
    if (plan.kind === "stall-before") return;
    if (plan.kind === "error") {
      sendError(ex, plan.status, plan.message, plan.retryAfter);
      return;
    }
    const rec = ex.rec;
    const model = rec.model ?? "";
    if (rec.protocol === "openai") {
      const streamOptions = body.stream_options;
      const meta = {
        id: `chatcmpl-mock${rec.seq}`,
        created: Math.floor(rec.startedAt / 1000),
        model,
        includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
      };
      if (rec.stream) stream(ex, renderOpenAiStream(plan, meta), plan);
      else respondJson(ex, plan, renderOpenAiJson(plan, meta));
    } else {
      const meta = { id: `msg_mock${rec.seq}`, model };
      if (rec.stream) stream(ex, renderAnthropicStream(plan, meta), plan);
      else respondJson(ex, plan, renderAnthropicJson(plan, meta));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Routing

  function authError(ex: Exchange): string | null {
    const auth = headerValue(ex.req, "authorization");
    const bearer = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
    if (ex.rec.protocol === "anthropic") {
      // `@anthropic-ai/sdk` 1.x sends `Authorization: Bearer <key>`, older clients and @ai-sdk/anthropic `x-api-key`.
      const key = headerValue(ex.req, "x-api-key") || bearer;
      if (!key) return "x-api-key header is required";
      if (apiKey !== undefined && key !== apiKey) return "invalid x-api-key";
      return null;
    }
    if (apiKey === undefined) return null;
    if (!auth) return "You didn't provide an API key. Provide it in an Authorization header (Bearer <key>).";
    return bearer === apiKey ? null : "Incorrect API key provided.";
  }

  function selectPlan(ex: Exchange, conversation: Conversation): Plan {
    const rec = ex.rec;
    const context = rec.protocol === "anthropic" ? anthropicContext : openAiContext;
    const model = rec.model ?? "";
    const scriptId =
      headerValue(ex.req, "x-mock-script") ?? (model.startsWith("script:") ? model.slice(7) : undefined);
    if (scriptId !== undefined) {
      rec.scenario = `script:${scriptId}`;
      const script = scripts.get(scriptId);
      if (!script) return errorPlan(500, `mock script ${scriptId} is not registered`);
      const step = script.steps[script.next];
      if (!step) return errorPlan(500, `mock script ${scriptId} is exhausted`);
      script.next++;
      return planStep(step, conversation, context);
    }
    const scenario = headerValue(ex.req, "x-mock-scenario");
    if (scenario !== undefined) {
      rec.scenario = scenario;
      if (!isBuiltinScenario(scenario))
        return errorPlan(400, `unknown mock scenario "${scenario}" (known: ${BUILTIN_SCENARIOS.join(", ")})`);
      return planScenario(scenario, conversation, ex.req.headers, context);
    }
    const oneOff = headerValue(ex.req, "x-mock-step");
    if (oneOff !== undefined) {
      rec.scenario = "step";
      let step: ScriptStep;
      try {
        step = parseScriptStep(JSON.parse(oneOff));
      } catch (error) {
        return errorPlan(400, `invalid x-mock-step header: ${(error as Error).message}`);
      }
      return planStep(step, conversation, context);
    }
    const name = isBuiltinScenario(model) ? model : "echo";
    rec.scenario = name;
    return planScenario(name, conversation, ex.req.headers, context);
  }

  function handleCompletion(ex: Exchange): void {
    const rec = ex.rec;
    const auth = authError(ex);
    if (auth) {
      rec.scenario = "rejected";
      sendError(ex, 401, auth);
      return;
    }
    const invalid =
      rec.protocol === "anthropic" ? validateAnthropicRequest(rec.body) : validateOpenAiRequest(rec.body);
    if (invalid) {
      rec.scenario = "rejected";
      sendError(ex, 400, invalid);
      return;
    }
    const body = rec.body as Record<string, unknown>;
    const conversation =
      rec.protocol === "anthropic" ? summarizeAnthropicRequest(body) : summarizeOpenAiRequest(body);
    respondPlan(ex, selectPlan(ex, conversation), body);
  }

  function handleModels(ex: Exchange, id: string | null): void {
    const rec = ex.rec;
    rec.scenario = "models";
    const auth = authError(ex);
    if (auth) {
      rec.scenario = "rejected";
      sendError(ex, 401, auth);
      return;
    }
    const anthropic = rec.protocol === "anthropic";
    if (id === null) {
      sendJson(
        ex,
        200,
        anthropic ? renderAnthropicModels(models) : renderOpenAiModels(models, MODEL_CREATED),
      );
      return;
    }
    if (!models.includes(id)) {
      rec.scenario = "rejected";
      sendError(ex, 404, `The model '${id}' does not exist`);
      return;
    }
    sendJson(ex, 200, anthropic ? renderAnthropicModel(id) : renderOpenAiModel(id, MODEL_CREATED));
  }

  function route(ex: Exchange): void {
    const { method, path } = ex.rec;
    if (method === "POST" && (path === "/v1/chat/completions" || path === "/v1/messages"))
      handleCompletion(ex);
    else if (method === "GET" && path === "/v1/models") handleModels(ex, null);
    else if (method === "GET" && path.startsWith("/v1/models/"))
      handleModels(ex, safeDecode(path.slice("/v1/models/".length)));
    else {
      ex.rec.scenario = "rejected";
      sendError(ex, 404, `Unknown request URL: ${method} ${path}`);
    }
  }

  function handleControl(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    raw: string,
  ): void {
    const reply = (status: number, value: unknown) => {
      const body = JSON.stringify(value);
      res.writeHead(status, { "content-type": JSON_CONTENT_TYPE, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    try {
      if (req.method === "GET" && path === "/_mock/requests") {
        reply(200, { requests });
        return;
      }
      if (req.method === "POST" && path === "/_mock/reset") {
        reset();
        reply(200, { ok: true });
        return;
      }
      if (req.method === "POST" && path === "/_mock/scripts") {
        const body: unknown = raw === "" ? null : JSON.parse(raw);
        if (!isRecord(body)) throw new Error("body must be {id, steps}");
        registerScript(body.id as string, body.steps as ScriptStep[]);
        reply(200, { ok: true });
        return;
      }
      reply(404, { error: `unknown control endpoint ${req.method} ${path}` });
    } catch (error) {
      reply(400, { error: (error as Error).message });
    }
  }

  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const startedAt = Date.now();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const raw =
        parts.length === 0 ? "" : parts.length === 1 ? parts[0]!.toString() : Buffer.concat(parts).toString();
      if (path.startsWith("/_mock/")) return handleControl(req, res, path, raw);
      let body: unknown = null;
      if (raw !== "") {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const model = isRecord(body) && typeof body.model === "string" ? body.model : null;
      const rec: RecordedRequest = {
        seq: ++seq,
        protocol:
          path === "/v1/messages" || (path !== "/v1/chat/completions" && req.headers["anthropic-version"])
            ? "anthropic"
            : "openai",
        method: req.method ?? "GET",
        path,
        headers: flattenHeaders(req.headers),
        body,
        model,
        stream: isRecord(body) && body.stream === true,
        scenario: "",
        status: 0,
        startedAt,
        endedAt: null,
        clientClosed: false,
      };
      if (maxRecorded > 0) {
        if (requests.length >= maxRecorded) requests.shift();
        requests.push(rec);
      }
      const ex: Exchange = { rec, req, res, closed: false, dropped: false, timer: null };
      res.on("close", () => {
        ex.closed = true;
        if (ex.timer) clearTimeout(ex.timer);
        ex.timer = null;
        if (!res.writableEnded && !ex.dropped && !closing) rec.clientClosed = true;
        rec.endedAt = Date.now();
        onRequest?.(rec);
      });
      if (typeof body === "string") {
        rec.scenario = "rejected";
        return sendError(ex, 400, "We could not parse the JSON body of your request.");
      }
      try {
        route(ex);
      } catch (error) {
        // A bug in the mock must not take the test process down: answer 500 (or cut the stream).
        if (res.headersSent) drop(ex);
        else sendError(ex, 500, `mock LLM failed: ${(error as Error).message}`);
      }
    });
  });

  server.on("connection", (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  const mock: MockLlm = {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    script: registerScript,
    waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          let ok: boolean;
          try {
            ok = predicate(requests);
          } catch (error) {
            reject(error);
            return;
          }
          if (ok) resolve();
          else if (Date.now() >= deadline) {
            const seen = requests
              .map(
                (r) =>
                  `#${r.seq} ${r.method} ${r.path} ${r.scenario} ${r.status}${r.clientClosed ? " closed" : ""}`,
              )
              .join("; ");
            reject(
              new Error(`mock LLM waitFor timed out after ${timeoutMs} ms (requests: ${seen || "none"})`),
            );
          } else setTimeout(check, 5);
        };
        check();
      });
    },
    reset,
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return mock;
}
