import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { DeadLetterSink, VerdictSink } from "../core/ports.js";
import { deadLetterJson } from "./dead-letter.js";

/** Writes lines to a stream, waiting for drain so memory stays bounded. */
class LineWriter {
  private readonly stream: Writable;
  private readonly owned: boolean;
  constructor(target: string | Writable) {
    this.owned = typeof target === "string";
    this.stream = typeof target === "string" ? createWriteStream(target) : target;
  }
  async write(lines: string): Promise<void> {
    if (!this.stream.write(lines)) await once(this.stream, "drain");
  }
  async close(): Promise<void> {
    if (!this.owned) return;
    this.stream.end();
    await once(this.stream, "finish");
  }
}

/** Verdicts as NDJSON to stdout or a file. */
export function ndjsonVerdictSink(target: string | Writable): VerdictSink {
  const out = new LineWriter(target);
  return {
    publish: (verdicts) => out.write(verdicts.map((v) => `${JSON.stringify(v)}\n`).join("")),
    close: () => out.close(),
  };
}

/** Dead letters as NDJSON (reason, origin, original value) to a file or stream. */
export function ndjsonDeadLetterSink(target: string | Writable): DeadLetterSink {
  const out = new LineWriter(target);
  return {
    write: (letters) => out.write(letters.map((l) => `${JSON.stringify(deadLetterJson(l))}\n`).join("")),
    close: () => out.close(),
  };
}
