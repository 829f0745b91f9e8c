// In-memory ports for unit tests: a source fed from an array, and recording sinks.
import pino from "pino";
import type { AlertSource, DeadLetter, DeadLetterSink, RecordIntake, SourceRecord, VerdictSink } from "../../src/core/ports/index.js";
import type { Verdict } from "../../src/core/verdict.js";
import { Telemetry } from "../../src/telemetry/events.js";
import { createMetrics } from "../../src/telemetry/metrics.js";

export const silentLogger = pino({ level: "silent" });

export function testTelemetry(): Telemetry {
  return new Telemetry(createMetrics({ defaultMetrics: false }), silentLogger, "test");
}

/** A finite source that pushes the given values, respecting the intake's capacity. */
export class ArraySource implements AlertSource {
  readonly name = "array";
  readonly acked: number[] = [];
  readonly exhausted: Promise<void>;
  private done!: () => void;
  constructor(private readonly values: (string | Buffer)[]) {
    this.exhausted = new Promise((r) => (this.done = r));
  }
  async start(intake: RecordIntake): Promise<void> {
    void (async () => {
      for (let i = 0; i < this.values.length; i++) {
        if (!intake.hasCapacity()) await intake.whenCapacity();
        const v = this.values[i]!;
        const rec: SourceRecord = {
          value: Buffer.isBuffer(v) ? v : Buffer.from(v),
          origin: { line: i + 1 },
          receivedAtMs: Date.now(),
          ack: () => this.acked.push(i),
        };
        intake.push(rec);
      }
      this.done();
    })();
  }
  async stopReading(): Promise<void> {}
  async close(): Promise<void> {}
}

export class MemoryVerdictSink implements VerdictSink {
  readonly verdicts: Verdict[] = [];
  failuresLeft = 0;
  async publish(vs: readonly Verdict[]): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      const { TriageError } = await import("../../src/core/errors.js");
      throw new TriageError({ code: "kafka_connection", stage: "sink", retriable: true, message: "broker unavailable" });
    }
    this.verdicts.push(...vs);
  }
  async close(): Promise<void> {}
}

export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  async write(ls: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...ls);
  }
  async close(): Promise<void> {}
}
