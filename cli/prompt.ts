/** Reading the API key at `agentry login`: without echo on a terminal, or the first line of piped stdin. */
import type { Io } from "./env.ts";
import { CliError, EXIT } from "./errors.ts";

export async function readSecret(io: Io, prompt: string): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY && typeof stdin.setRawMode === "function") return readHidden(io, prompt);
  let text = "";
  stdin.setEncoding("utf8");
  for await (const chunk of stdin) {
    text += chunk as string;
    if (text.includes("\n")) break;
  }
  return (text.split(/\r?\n/)[0] ?? "").trim();
}

function readHidden(io: Io, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  let value = "";
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write("\n");
      if (error) reject(error);
      else resolve(value.trim());
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") return done();
        if (char === "\u0003") return done(new CliError("Cancelled", EXIT.cancelled));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else if (char >= " ") value += char;
      }
    };
    stdin.on("data", onData);
  });
}
