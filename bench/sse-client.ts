/**
 * The SSE clients of the benchmark (`bench/sse.ts`), in a process of their own so their CPU is not the web
 * process's: raw HTTP requests (no EventSource), one socket each. Driven over IPC:
 *
 *   { connect: { base, token, runIds, perRun } } → { connected, failed, ms }   (opened in waves)
 *   { finish: { timeoutMs, chunks } } → { result }   once every stream has ended (or the timeout passed)
 *   { cpu: true } → { cpuMs }   CPU used so far
 *
 * Every stream is checked: ids contiguous from 1, the producer's chunks (`#<i>@<ms since epoch>;` in token
 * texts) each exactly once and in order, the terminal status event last, then the end of the response. The
 * lag of a chunk is its receipt time minus the time the producer appended it (same host, same clock).
 */
import http from "node:http";

type Stream = {
  runId: string;
  buffer: string;
  lastSeq: number;
  nextChunk: number;
  terminal: boolean;
  ended: boolean;
  error: string | null;
};

const send = (message: unknown) => process.send?.(message);
const nowMs = () => performance.timeOrigin + performance.now();

const streams: Stream[] = [];
const lags: number[] = [];
let frames = 0;
let onEnded: (() => void) | undefined;
let open = 0;

function fail(stream: Stream, reason: string) {
  if (!stream.error) stream.error = reason;
}

function handleBlock(stream: Stream, block: string, at: number) {
  let id: number | null = null;
  let type = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("id: ")) id = Number(line.slice(4));
    else if (line.startsWith("event: ")) type = line.slice(7);
    else if (line.startsWith("data: ")) data = line.slice(6);
  }
  if (id === null) return; // retry:, : ping
  frames += 1;
  if (id !== stream.lastSeq + 1) fail(stream, `seq ${id} after ${stream.lastSeq}`);
  stream.lastSeq = id;
  if (stream.terminal) fail(stream, `event ${id} after the terminal status`);
  if (type === "token") {
    const text = (JSON.parse(data) as { text: string }).text;
    for (const part of text.split(";")) {
      if (part === "") continue;
      const at2 = part.indexOf("@");
      const index = Number(part.slice(1, at2));
      const sent = Number(part.slice(at2 + 1));
      if (index !== stream.nextChunk) fail(stream, `chunk ${index}, expected ${stream.nextChunk}`);
      stream.nextChunk = index + 1;
      lags.push(at - sent);
    }
  } else if (type === "status") {
    const status = (JSON.parse(data) as { status: string }).status;
    if (status === "succeeded") stream.terminal = true;
  }
}

function connect(base: string, token: string, runId: string): Promise<boolean> {
  return new Promise((resolve) => {
    const stream: Stream = {
      runId,
      buffer: "",
      lastSeq: 0,
      nextChunk: 0,
      terminal: false,
      ended: false,
      error: null,
    };
    const req = http.get(
      `${base}/api/v1/runs/${runId}/events`,
      { agent: false, headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve(false);
          return;
        }
        streams.push(stream);
        open += 1;
        res.setEncoding("utf8");
        let first = true;
        res.on("data", (chunk: string) => {
          if (first) {
            first = false;
            resolve(true);
          }
          const at = nowMs();
          stream.buffer += chunk;
          let end = stream.buffer.indexOf("\n\n");
          while (end !== -1) {
            handleBlock(stream, stream.buffer.slice(0, end), at);
            stream.buffer = stream.buffer.slice(end + 2);
            end = stream.buffer.indexOf("\n\n");
          }
        });
        const done = () => {
          if (stream.ended) return;
          stream.ended = true;
          open -= 1;
          if (!stream.terminal) fail(stream, "ended without the terminal status");
          if (open === 0) onEnded?.();
        };
        res.on("end", done);
        res.on("close", done);
        res.on("error", (error) => fail(stream, error.message));
      },
    );
    req.on("error", () => resolve(false));
  });
}

function quantile(sorted: number[], q: number) {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

type Message =
  | { cpu: true }
  | { connect: { base: string; token: string; runIds: string[]; perRun: number } }
  | { finish: { timeoutMs: number; chunks: number } };

process.on("message", async (message: Message) => {
  if ("cpu" in message) {
    const { user, system } = process.cpuUsage();
    send({ cpuMs: (user + system) / 1000 });
  } else if ("connect" in message) {
    const { base, token, runIds, perRun } = message.connect;
    const started = performance.now();
    const targets = runIds.flatMap((runId) => Array.from({ length: perRun }, () => runId));
    let connected = 0;
    let failed = 0;
    const WAVE = 100;
    for (let i = 0; i < targets.length; i += WAVE) {
      const results = await Promise.all(
        targets.slice(i, i + WAVE).map((runId) => connect(base, token, runId)),
      );
      for (const ok of results) ok ? connected++ : failed++;
    }
    send({ connected, failed, ms: performance.now() - started });
  } else if ("finish" in message) {
    const { timeoutMs, chunks } = message.finish;
    if (open > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onEnded = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const stream of streams) {
      if (!stream.ended) fail(stream, "still open at the deadline");
      if (stream.nextChunk !== chunks) fail(stream, `${stream.nextChunk} of ${chunks} chunks`);
    }
    const bad = streams.filter((s) => s.error);
    lags.sort((a, b) => a - b);
    const { user, system } = process.cpuUsage();
    send({
      result: {
        cpuMs: (user + system) / 1000,
        streams: streams.length,
        complete: streams.length - bad.length,
        problems: bad.slice(0, 5).map((s) => `${s.runId}: ${s.error}`),
        frames,
        chunks: lags.length,
        lag: {
          p50: quantile(lags, 0.5),
          p95: quantile(lags, 0.95),
          p99: quantile(lags, 0.99),
          max: lags.at(-1) ?? Number.NaN,
        },
      },
    });
  }
});
send({ ready: true });
