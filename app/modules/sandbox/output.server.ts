/**
 * Capped capture of a command's stdout and stderr: the first `maxBytes` bytes of both streams together are
 * kept (and streamed to `onOutput` as they come), the rest is counted and dropped. Cuts fall on UTF-8
 * character boundaries, and a character split across two chunks is decoded whole.
 */
import { StringDecoder } from "node:string_decoder";
import type { SandboxOutputListener, SandboxOutputStream } from "./sandbox.types.ts";

/** The longest prefix of `buf` of at most `max` bytes that does not end inside a UTF-8 sequence. */
export function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let n = max;
  // A continuation byte (10xxxxxx) at the cut means the cut splits a character: step back to its start.
  while (n > 0 && ((buf[n] as number) & 0xc0) === 0x80) n--;
  return buf.subarray(0, n);
}

export class OutputCapture {
  private kept = 0;
  private dropped = 0;
  private full = false;
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private readonly text = { stdout: "", stderr: "" };
  private combined = "";
  /** The first error the listener threw; the run is stopped and the error re-thrown to the caller. */
  listenerError: { error: unknown } | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly listener?: SandboxOutputListener,
    private readonly onListenerError?: () => void,
  ) {}

  push(stream: SandboxOutputStream, chunk: Buffer): void {
    if (this.full) {
      this.dropped += chunk.length;
      return;
    }
    let part = chunk;
    if (this.kept + chunk.length > this.maxBytes) {
      part = utf8Prefix(chunk, this.maxBytes - this.kept);
      this.dropped += chunk.length - part.length;
      this.full = true;
    }
    this.kept += part.length;
    this.emit(stream, this.decoders[stream].write(part));
  }

  /** Flush what the decoders hold (an incomplete last character becomes U+FFFD). */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) this.emit(stream, this.decoders[stream].end());
  }

  private emit(stream: SandboxOutputStream, text: string): void {
    if (text === "") return;
    this.text[stream] += text;
    this.combined += text;
    if (!this.listener || this.listenerError) return;
    try {
      this.listener(stream, text);
    } catch (error) {
      this.listenerError = { error };
      this.onListenerError?.();
    }
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  get stdout(): string {
    return this.text.stdout;
  }

  get stderr(): string {
    return this.text.stderr;
  }

  get output(): string {
    return this.combined;
  }
}
