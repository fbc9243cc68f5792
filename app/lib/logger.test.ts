import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, scrubSecrets } from "./logger.server.ts";

/** A logger writing JSON lines into an array. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

describe("log redaction", () => {
  it("drops known secret fields by name", () => {
    const { logger, lines } = capture();
    logger.info({ password: "hunter2-hunter2", req: { headers: { authorization: "Bearer abc" } } }, "login");
    expect(lines[0]).toMatchObject({
      password: "[redacted]",
      req: { headers: { authorization: "[redacted]" } },
    });
  });

  it("scrubs secrets by shape in messages, nested values and errors' messages", () => {
    const { logger, lines } = capture();
    const jwt =
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    logger.warn(
      {
        detail: {
          note: "key agt_2HHycK6mQ9zZ1abcdefghij used",
          url: "postgresql://app:s3cr3t-pw@db:5432/agentry",
        },
        list: ["sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA"],
        err: new Error("provider said: invalid key sk-ant-api03-BBBBBBBBBBBBBBBBBBBBBB"),
      },
      `call with Bearer ${jwt} failed`,
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of [
      "agt_2HHycK6m",
      "s3cr3t-pw",
      "sk-proj-AAAA",
      "sk-ant-api03-BBBB",
      jwt,
      "dozjgNryP4J3",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]?.msg).toBe("call with Bearer [redacted] failed");
    expect((lines[0]!.detail as { url: string }).url).toBe("postgresql://app:[redacted]@db:5432/agentry");
  });

  it("leaves ordinary text alone", () => {
    const text = "run 0192f7a1 finished in 12 ms; model openai:gpt-4.1-mini; see https://example.com/docs";
    expect(scrubSecrets(text)).toBe(text);
  });
});
