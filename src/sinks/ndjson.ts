import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { TriageError, type Stage } from "../core/errors.js";
import { jsonWithoutNul } from "../core/nul.js";
import type { DeadLetterSink, VerdictSink } from "../core/ports/index.js";
import { deadLetterJson } from "./dead-letter.js";
import { fsErrorText } from "./output-paths.js";

/**
 * Writes lines to a stream; a write resolves once the stream has handed it to the OS, so memory stays bounded
 * and a failed write (ENOSPC, EACCES, EPIPE…) rejects instead of vanishing. After the first failure every write
 * rejects with it: the stream is dead, retrying cannot help.
 */
class LineWriter {
  private readonly stream: Writable;
  private readonly owned: boolean;
  private readonly target: string;
  private failure: TriageError | undefined;
  constructor(
    target: string | Writable,
    private readonly what: string,
    private readonly stage: Stage,
  ) {
    this.owned = typeof target === "string";
    this.target = typeof target === "string" ? target : target === process.stdout ? "stdout" : target === process.stderr ? "stderr" : "stream";
    this.stream = typeof target === "string" ? createWriteStream(target) : target;
    this.stream.on("error", (err) => this.fail(err));
  }
  private fail(err: unknown): TriageError {
    this.failure ??= new TriageError({
      code: "output_write_failed",
      stage: this.stage,
      retriable: false,
      message: `cannot write ${this.what} to ${this.target}: ${fsErrorText(err)}`,
      cause: err,
    });
    return this.failure;
  }
  write(lines: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.stream.write(lines, (err) => (err ? reject(this.fail(err)) : resolve()));
    });
  }
  /** Ends an owned file; rejects when its last bytes could not be written. */
  async close(): Promise<void> {
    if (!this.owned) return;
    if (this.failure) {
      this.stream.destroy();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.stream.end(() => (this.failure ? reject(this.failure) : resolve()));
      this.stream.once("error", (err) => reject(this.fail(err)));
    });
  }
}

/** Verdicts as NDJSON to stdout or a file. */
export function ndjsonVerdictSink(target: string | Writable): VerdictSink {
  const out = new LineWriter(target, "verdicts", "sink");
  return {
    publish: (verdicts) => out.write(verdicts.map((v) => `${jsonWithoutNul(JSON.stringify(v))}\n`).join("")),
    close: () => out.close(),
  };
}

/** Dead letters as NDJSON (reason, origin, original value) to a file or stream. */
export function ndjsonDeadLetterSink(target: string | Writable): DeadLetterSink {
  const out = new LineWriter(target, "dead letters", "dlq");
  return {
    write: (letters) => out.write(letters.map((l) => `${JSON.stringify(deadLetterJson(l))}\n`).join("")),
    close: () => out.close(),
  };
}
