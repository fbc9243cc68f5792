/**
 * The `ai` suite: what the AIServiceProxy adds on top of calling a provider with its SDK. The mock provider
 * runs in a child process (its own event loop); the same requests go to it through the official `openai` SDK
 * directly and through our proxy (adapter, retry layer, budgets, cache check, recording), interleaved in one
 * run so both see the same machine state.
 *
 * Goals (issue 5): added TTFT p50 ≤ 1 ms and p99 ≤ 5 ms; added inter-chunk gap p99 ≤ 2 ms; 0 lost or
 * reordered chunks; cache hit p99 ≤ 5 ms.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import type { ChatRequest } from "#app/modules/ai/ai.types.ts";
import { loadCatalog } from "#app/modules/ai/catalog.server.ts";
import { DEFAULT_AI_CONFIG } from "#app/modules/ai/config.server.ts";
import { createKeyring } from "#app/modules/ai/crypto.server.ts";
import { createAiService } from "#app/modules/ai/service.server.ts";
import { quantile, report, reportValue, round } from "./lib.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUITE = "ai";
const MODEL = "gpt-4.1-mini";

async function startMockChild(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/mock-child.ts")], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`mock provider exited with ${code}`)));
  });
  return { url, child };
}

type Timing = { ttft: number; gaps: number[]; text: string };

export async function runAi(databaseUrl: string): Promise<void> {
  const { url: mockUrl, child } = await startMockChild();
  const db = createPrismaClient({ connectionString: databaseUrl, max: 10 });
  try {
    const user = await db.user.create({ data: { email: `bench-ai-${Date.now()}@example.com` } });
    const ai = createAiService({
      db,
      logger: createLogger({ level: "silent" }),
      config: {
        ...DEFAULT_AI_CONFIG,
        maxRetries: 0,
        server: { openai: { apiKey: "bench", baseUrl: `${mockUrl}/v1` }, compat: {} },
      },
      keyring: createKeyring(Buffer.alloc(32, 1).toString("base64")),
      catalog: loadCatalog(),
    });
    const sdk = new OpenAI({ baseURL: `${mockUrl}/v1`, apiKey: "bench", maxRetries: 0 });
    const slow = (chunks: number, delayMs: number) => ({
      "x-mock-scenario": "slow",
      "x-mock-chunks": String(chunks),
      "x-mock-chunk-delay-ms": String(delayMs),
    });
    const messages = [{ role: "user" as const, content: "benchmark" }];

    async function direct(headers: Record<string, string>): Promise<Timing> {
      const started = performance.now();
      let last = 0;
      let ttft = -1;
      const gaps: number[] = [];
      let text = "";
      const stream = await sdk.chat.completions.create(
        { model: MODEL, messages, stream: true, stream_options: { include_usage: true } },
        { headers },
      );
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta?.content;
        if (!delta) continue;
        const now = performance.now();
        if (ttft < 0) ttft = now - started;
        else gaps.push(now - last);
        last = now;
        text += delta;
      }
      return { ttft, gaps, text };
    }

    async function proxied(
      headers: Record<string, string>,
      request: Partial<ChatRequest> = {},
    ): Promise<Timing> {
      const started = performance.now();
      let last = 0;
      let ttft = -1;
      const gaps: number[] = [];
      let text = "";
      const stream = ai.stream(
        { model: `openai:${MODEL}`, messages, ...request },
        { userId: user.id, upstreamHeaders: headers },
      );
      for await (const event of stream) {
        if (event.type !== "text") continue;
        const now = performance.now();
        if (ttft < 0) ttft = now - started;
        else gaps.push(now - last);
        last = now;
        text += event.delta;
      }
      await stream.result;
      return { ttft, gaps, text };
    }

    const expected = (n: number) => Array.from({ length: n }, (_, i) => `tok${i} `).join("");

    // ── Time to first token: interleaved pairs, so drift hits both sides alike.
    for (let i = 0; i < 20; i++) {
      await direct(slow(4, 0));
      await proxied(slow(4, 0));
    }
    const ttftDirect: number[] = [];
    const ttftProxy: number[] = [];
    for (let i = 0; i < 300; i++) {
      ttftDirect.push((await direct(slow(4, 0))).ttft);
      ttftProxy.push((await proxied(slow(4, 0))).ttft);
    }
    report(SUITE, "TTFT, SDK → mock directly", ttftDirect);
    report(SUITE, "TTFT, through the proxy", ttftProxy);
    reportValue(
      SUITE,
      "added TTFT p50",
      quantile(ttftProxy, 0.5) - quantile(ttftDirect, 0.5),
      "ms",
      "goal ≤ 1 ms",
    );
    reportValue(
      SUITE,
      "added TTFT p99",
      quantile(ttftProxy, 0.99) - quantile(ttftDirect, 0.99),
      "ms",
      "goal ≤ 5 ms",
    );

    // ── Inter-chunk gaps on paced streams (64 chunks, 5 ms apart), and chunk integrity.
    const gapsDirect: number[] = [];
    const gapsProxy: number[] = [];
    let broken = 0;
    for (let i = 0; i < 20; i++) {
      gapsDirect.push(...(await direct(slow(64, 5))).gaps);
      const run = await proxied(slow(64, 5));
      gapsProxy.push(...run.gaps);
      if (run.text !== expected(64)) broken++;
    }
    report(SUITE, "inter-chunk gap, SDK directly (5 ms pacing)", gapsDirect);
    report(SUITE, "inter-chunk gap, through the proxy", gapsProxy);
    reportValue(
      SUITE,
      "added gap p99",
      quantile(gapsProxy, 0.99) - quantile(gapsDirect, 0.99),
      "ms",
      "goal ≤ 2 ms",
    );

    // ── Concurrent streams, 64 chunks × 20 ms each. Two rounds per side in alternating order (direct, proxy,
    // proxy, direct), so neither side always runs first after a quiet moment.
    for (const concurrency of [50, 200]) {
      const sides = {
        direct: { runs: [] as Timing[], walls: [] as number[] },
        proxy: { runs: [] as Timing[], walls: [] as number[] },
      };
      for (const side of ["direct", "proxy", "proxy", "direct"] as const) {
        const started = performance.now();
        const runs = await Promise.all(
          Array.from({ length: concurrency }, () =>
            side === "proxy" ? proxied(slow(64, 20)) : direct(slow(64, 20)),
          ),
        );
        sides[side].walls.push(performance.now() - started);
        sides[side].runs.push(...runs);
        if (side === "proxy") broken += runs.filter((r) => r.text !== expected(64)).length;
      }
      for (const side of ["direct", "proxy"] as const) {
        const label = side === "proxy" ? "proxy" : "SDK directly";
        report(
          SUITE,
          `TTFT with ${concurrency} concurrent streams (${label})`,
          sides[side].runs.map((r) => r.ttft),
        );
        report(
          SUITE,
          `gap with ${concurrency} concurrent streams (${label})`,
          sides[side].runs.flatMap((r) => r.gaps),
        );
        reportValue(
          SUITE,
          `${concurrency} concurrent streams: wall time (${label})`,
          Math.min(...sides[side].walls),
          "ms",
          side === "proxy"
            ? "best of 2; includes writing the AiCall rows; ideal 63 × 20 = 1,260 ms"
            : "best of 2",
        );
      }
    }
    reportValue(SUITE, "lost or reordered chunks", broken, "streams", "goal 0");

    // ── Cache hits: a deterministic request answered from PostgreSQL, recorded at zero cost.
    const deterministic: Partial<ChatRequest> = {
      temperature: 0,
      messages: [{ role: "user", content: "cache me" }],
    };
    await proxied(slow(16, 0), deterministic);
    const hits: number[] = [];
    const answered: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      const stream = ai.stream(
        { model: `openai:${MODEL}`, ...deterministic, messages: deterministic.messages! },
        { userId: user.id },
      );
      for await (const event of stream)
        if (event.type === "finish") answered.push(performance.now() - started);
      const result = await stream.result;
      hits.push(performance.now() - started);
      if (!result.cached) throw new Error("expected a cache hit");
    }
    report(SUITE, "cache hit, answer delivered", answered, "ms", "goal p99 ≤ 5 ms");
    report(SUITE, "cache hit, whole call incl. its ledger row", hits);

    // ── Single-flight: 50 identical concurrent deterministic calls → one upstream request.
    const fanIn: number[] = [];
    const upstreamCalls: number[] = [];
    for (let round_ = 0; round_ < 10; round_++) {
      await fetch(`${mockUrl}/_mock/reset`, { method: "POST" });
      const request: ChatRequest = {
        model: `openai:${MODEL}`,
        seed: round_,
        messages: [{ role: "user", content: `fan-in ${round_} ${Date.now()}` }],
      };
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          ai.complete(request, { userId: user.id, upstreamHeaders: slow(16, 2) }),
        ),
      );
      fanIn.push(performance.now() - started);
      if (new Set(answers.map((a) => a.text)).size !== 1) throw new Error("single-flight answers differ");
      const { requests } = (await (await fetch(`${mockUrl}/_mock/requests`)).json()) as {
        requests: unknown[];
      };
      upstreamCalls.push(requests.length);
    }
    report(
      SUITE,
      "single-flight: 50 identical calls, all answered",
      fanIn,
      "ms",
      "16 chunks × 2 ms upstream",
    );
    reportValue(
      SUITE,
      "single-flight: upstream requests per 50 calls",
      round(quantile(upstreamCalls, 1)),
      "requests",
      "goal 1",
    );
  } finally {
    child.kill("SIGTERM");
    await db.$disconnect();
  }
}
