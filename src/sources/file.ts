import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { AlertSource, RecordDigest, RecordIntake } from "../core/ports/index.js";

export interface LineSourceOptions {
  /**
   * Lines longer than this are passed on truncated to maxLineBytes + 1 bytes (with the whole line's size and
   * SHA-256), so they are dead-lettered as too large, with their real size, in bounded memory.
   */
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

  constructor(
    private readonly input: string | Readable,
    private readonly opts: LineSourceOptions,
  ) {
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
    let lineBytes = 0;
    let hash: Hash | undefined; // only for a line longer than max + 1: its whole size and SHA-256 go with the cut copy
    let line = 0;
    const emit = async (bytes: Buffer, full?: RecordDigest) => {
      line++;
      const text = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, -1) : bytes; // CRLF
      if (text.length === 0 || isBlank(text)) return;
      if (!intake.hasCapacity()) await intake.whenCapacity();
      intake.push({ value: text, ...(full ? { full } : {}), origin: { line }, receivedAtMs: Date.now(), ack: () => this.opts.onAck?.() });
    };
    // Keep at most max+1 bytes of a line (enough to know it is too large); hash all of it once it is longer.
    const keep = (segment: Buffer) => {
      if (hash === undefined && lineBytes + segment.length > max + 1) {
        hash = createHash("sha256");
        for (const part of parts) hash.update(part);
      }
      hash?.update(segment);
      const room = max + 1 - partBytes;
      if (room > 0) {
        const kept = Buffer.from(segment.subarray(0, room));
        parts.push(kept);
        partBytes += kept.length;
      }
      lineBytes += segment.length;
    };
    const endLine = async () => {
      const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      const full = hash ? { bytes: lineBytes, sha256: hash.digest("hex") } : undefined;
      parts = [];
      partBytes = 0;
      lineBytes = 0;
      hash = undefined;
      await emit(whole, full);
    };
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (this.stopped) break;
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        if (parts.length === 0 && piece.length <= max + 1) await emit(piece);
        else {
          keep(piece);
          await endLine();
        }
        start = nl + 1;
        if (this.stopped) return;
      }
      if (start < chunk.length) keep(chunk.subarray(start));
    }
    if (lineBytes > 0 && !this.stopped) await endLine();
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
