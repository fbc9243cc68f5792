import { describe, expect, it } from "vitest";
import { createSseParser, type SseMessage } from "./sse.ts";

function parseAll(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const parser = createSseParser((m) => out.push(m));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return out;
}

describe("createSseParser", () => {
  const stream =
    'event: start\ndata: {"a":1}\n\n: ping\n\nevent: text\ndata: {"delta":"hé"}\n\ndata: one\ndata: two\n\n';

  it("parses events, skips comments and joins multi-line data", () => {
    expect(parseAll([stream])).toEqual([
      { event: "start", data: '{"a":1}', id: null },
      { event: "text", data: '{"delta":"hé"}', id: null },
      { event: "message", data: "one\ntwo", id: null },
    ]);
  });

  it("gives the same events however the text is split", () => {
    const whole = parseAll([stream]);
    for (let size = 1; size < 12; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      expect(parseAll(chunks)).toEqual(whole);
    }
  });

  it("accepts CRLF and CR line endings, keeps ids, and drops an unterminated last event", () => {
    expect(parseAll(["id: 7\r\nevent: x\r\ndata: 1\r\n\r\n", "data: 2\r\rdata: lost"])).toEqual([
      { event: "x", data: "1", id: "7" },
      { event: "message", data: "2", id: "7" },
    ]);
  });
});
