import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnv } from "#app/env.server.ts";
import { costMicros, loadCatalog } from "./catalog.server.ts";
import { aiConfigFromEnv, envKeyName, parseCompatEndpoints, wantsDemoModel } from "./runtime.server.ts";

describe("AI configuration from the environment", () => {
  it("reads the SDKs' own variables and named OpenAI-compatible endpoints with their keys", () => {
    const env = loadEnv({
      OPENAI_API_KEY: "sk-1",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      ANTHROPIC_API_KEY: "ak-1",
      AI_COMPAT_ENDPOINTS: "ollama=http://127.0.0.1:11434/v1, lm-studio=http://127.0.0.1:1234/v1/",
      AI_COMPAT_LM_STUDIO_API_KEY: "lm-key",
    });
    const config = aiConfigFromEnv(env, { demoBaseUrl: null });
    expect(config.server.openai).toEqual({ apiKey: "sk-1", baseUrl: "http://127.0.0.1:9/v1" });
    expect(config.server.anthropic).toEqual({ apiKey: "ak-1", baseUrl: undefined });
    expect(config.server.compat).toEqual({
      ollama: { baseUrl: "http://127.0.0.1:11434/v1", apiKey: "" },
      "lm-studio": { baseUrl: "http://127.0.0.1:1234/v1", apiKey: "lm-key" },
    });
    expect(config.demo).toBeNull();
    expect(envKeyName("lm-studio")).toBe("AI_COMPAT_LM_STUDIO_API_KEY");
  });

  it("accepts endpoints as JSON and rejects bad names, URLs and the reserved demo name", () => {
    expect(parseCompatEndpoints('{"vllm":{"baseUrl":"http://gpu:8000/v1","apiKey":"k"}}')).toEqual({
      vllm: { baseUrl: "http://gpu:8000/v1", apiKey: "k" },
    });
    expect(() => parseCompatEndpoints("Bad Name=http://x/v1")).toThrow(/not a valid endpoint name/);
    expect(() => parseCompatEndpoints("x=ftp://x")).toThrow(/http\(s\) base URL/);
    expect(() => parseCompatEndpoints("demo=http://x/v1")).toThrow(/reserved/);
    expect(() => parseCompatEndpoints("{nope")).toThrow(/not valid JSON/);
  });

  it("offers the demo model on a local install without providers, never silently elsewhere", () => {
    expect(wantsDemoModel(loadEnv({}), "production")).toBe(true);
    expect(wantsDemoModel(loadEnv({ OPENAI_API_KEY: "sk" }), "production")).toBe(false);
    expect(wantsDemoModel(loadEnv({ DATABASE_URL: "postgresql://x/y" }), "production")).toBe(false);
    expect(wantsDemoModel(loadEnv({ DATABASE_URL: "postgresql://x/y" }), "development")).toBe(true);
    expect(
      wantsDemoModel(loadEnv({ DATABASE_URL: "postgresql://x/y", AI_DEMO_MODEL: "on" }), "production"),
    ).toBe(true);
    expect(wantsDemoModel(loadEnv({ AI_DEMO_MODEL: "off" }), "development")).toBe(false);
  });
});

describe("model catalog", () => {
  it("ships priced models and computes cost in micro-dollars, rounded up", () => {
    const catalog = loadCatalog();
    const mini = catalog.get("openai:gpt-4.1-mini");
    expect(mini).toMatchObject({ inputPerMTok: 0.4, outputPerMTok: 1.6, tools: true });
    // 1,000 in × 0.4 + 500 out × 1.6 = 400 + 800 micro-dollars.
    expect(costMicros(mini, { tokensIn: 1000, tokensOut: 500 })).toBe(1200);
    expect(costMicros(mini, { tokensIn: 1, tokensOut: 0 })).toBe(1);
    expect(costMicros(undefined, { tokensIn: 1000, tokensOut: 1000 })).toBe(0);
    expect(catalog.get("compat:demo/demo")?.label).toMatch(/Offline demo model/);
  });

  it("merges an operator's file over the shipped catalog by id, and explains a broken file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "agentry-models-"));
    const file = path.join(dir, "models.json");
    writeFileSync(
      file,
      JSON.stringify({
        models: [
          {
            id: "openai:gpt-4.1-mini",
            label: "Mini (negotiated)",
            contextWindow: 1000,
            tools: true,
            inputPerMTok: 0.1,
            outputPerMTok: 0.2,
          },
          {
            id: "compat:vllm/my-model",
            label: "Mine",
            contextWindow: 32000,
            tools: false,
            inputPerMTok: 0,
            outputPerMTok: 0,
          },
        ],
      }),
    );
    const catalog = loadCatalog({ modelsFile: file });
    expect(catalog.get("openai:gpt-4.1-mini")?.label).toBe("Mini (negotiated)");
    expect(catalog.get("compat:vllm/my-model")?.tools).toBe(false);
    expect(catalog.get("openai:gpt-4.1")).toBeDefined();
    writeFileSync(file, JSON.stringify({ models: [{ id: "nope", label: "x" }] }));
    expect(() => loadCatalog({ modelsFile: file })).toThrow(/models\.0\.id/);
  });
});
