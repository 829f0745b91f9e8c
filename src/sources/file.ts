import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { AlertSource, RecordIntake } from "../core/ports.js";

export interface LineSourceOptions {
  /** Lines longer than this are passed on truncated to maxLineBytes + 1 bytes, so they are dead-lettered as too large. */
  maxLineBytes: number;
  /** Called after each line is acknowledged (progress bars). */
  onAck?: () => void;
}

/**
 * NDJSON records from a file or stdin, one per line, as raw bytes (so bad UTF-8 is detected downstream).
 * Waits while the pipeline's window is full.
 */
export class LineSource implements AlertSource {
  readonly name: string;
  readonly exhausted: Promise<void>;
  private resolveExhausted!: () => void;
  private rejectExhausted!: (err: Error) => void;
  private stopped = false;
  private stream: Readable | undefined;

  constructor(private readonly input: string | Readable, private readonly opts: LineSourceOptions) {
    this.name = typeof input === "string" ? "file" : "stdin";
    this.exhausted = new Promise((resolve, reject) => {
      this.resolveExhausted = resolve;
      this.rejectExhausted = reject;
    });
  }

  async start(intake: RecordIntake): Promise<void> {
    this.stream = typeof this.input === "string" ? createReadStream(this.input) : this.input;
    void this.read(this.stream, intake).then(this.resolveExhausted, this.rejectExhausted);
  }

  private async read(stream: Readable, intake: RecordIntake): Promise<void> {
    const max = this.opts.maxLineBytes;
    let parts: Buffer[] = [];
    let partBytes = 0;
    let line = 0;
    const emit = async (bytes: Buffer) => {
      line++;
      const text = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, -1) : bytes; // CRLF
      if (text.length === 0 || isBlank(text)) return;
      if (!intake.hasCapacity()) await intake.whenCapacity();
      intake.push({ value: text, origin: { line }, receivedAtMs: Date.now(), ack: () => this.opts.onAck?.() });
    };
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (this.stopped) break;
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        const whole = parts.length === 0 ? piece : Buffer.concat([...parts, piece.subarray(0, Math.max(0, max + 1 - partBytes))]);
        parts = [];
        partBytes = 0;
        await emit(whole.length > max + 1 ? whole.subarray(0, max + 1) : whole);
        start = nl + 1;
        if (this.stopped) return;
      }
      // Keep at most max+1 bytes of an unfinished line: enough to know it is too large.
      if (start < chunk.length && partBytes <= max) {
        const rest = chunk.subarray(start, start + (max + 1 - partBytes));
        parts.push(Buffer.from(rest));
        partBytes += rest.length;
      }
    }
    if (parts.length > 0 && !this.stopped) await emit(Buffer.concat(parts));
  }

  async stopReading(): Promise<void> {
    this.stopped = true;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (typeof this.input === "string") this.stream?.destroy();
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 32 && b !== 9 && b !== 13) return false;
  return true;
}
