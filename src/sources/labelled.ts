/**
 * A source decorator for replay: takes the analysts' label field out of each record before the pipeline sees it
 * (so the label never reaches normalization, the model, the cache keys or the memory) and reports each record's
 * outcome together with the label it kept aside, bound to that record (never to its alert_id, which can collide).
 */
import type { AlertSource, RecordIntake, RecordOrigin, RecordOutcome, SourceRecord } from "../core/ports/index.js";

/** One record's outcome as replay observes it. */
export interface ObservedRecord {
  /** 0-based position of the record in the stream (arrival order). */
  position: number;
  origin: RecordOrigin;
  outcome: RecordOutcome;
  /** The label field's value, taken from the record before normalization (undefined when absent or no --labels). */
  label: unknown;
  receivedAtMs: number;
  ackedAtMs: number;
}

export interface LabelledSourceOptions {
  /** Dotted path of the label field (e.g. ["kibana", "alert", "workflow_reason"]); null: nothing to strip. */
  labelPath: readonly string[] | null;
  onOutcome(observed: ObservedRecord): void;
  now?: () => number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Remove every occurrence of a dotted path from a parsed record, nested (`{"a":{"b":1}}`), flat (`{"a.b":1}`) or
 * mixed (`{"a":{"b.c":1}}`) as SIEM exports write it. Returns the first value found (flattest key first).
 */
export function takeDottedField(record: Record<string, unknown>, path: readonly string[]): { found: boolean; value: unknown } {
  let found = false;
  let value: unknown;
  const walk = (node: Record<string, unknown>, segs: readonly string[]): void => {
    for (let k = segs.length; k >= 1; k--) {
      const key = segs.slice(0, k).join(".");
      if (!Object.hasOwn(node, key)) continue;
      if (k === segs.length) {
        if (!found) value = node[key];
        found = true;
        delete node[key];
      } else {
        const child = node[key];
        if (isPlainObject(child)) walk(child, segs.slice(k));
      }
    }
  };
  walk(record, path);
  return { found, value };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The record without its label, and the label. A record that is not a JSON object is passed on untouched: it
 * goes to the dead-letter sink, never to the model. Only a record that carried the label is re-serialized.
 */
export function stripLabel(bytes: Buffer | null, path: readonly string[]): { value: Buffer | null; label: unknown } {
  if (!bytes || bytes.length === 0) return { value: bytes, label: undefined };
  let parsed: unknown;
  try {
    // A number beyond the double range keeps its literal text, as the pipeline's decoder keeps it (re-serialised as
    // Infinity it would become null: the model would see other values with --labels than without).
    parsed = JSON.parse(utf8.decode(bytes), (_key, v: unknown, context?: { source?: string }) =>
      typeof v === "number" && !Number.isFinite(v) ? (context?.source ?? String(v)) : v,
    );
  } catch {
    return { value: bytes, label: undefined };
  }
  if (!isPlainObject(parsed)) return { value: bytes, label: undefined };
  const taken = takeDottedField(parsed, path);
  if (!taken.found) return { value: bytes, label: undefined };
  return { value: Buffer.from(JSON.stringify(parsed)), label: taken.value };
}

/** Wraps a finite source: strips the label from every record and observes every acknowledged outcome. */
export class LabelledSource implements AlertSource {
  readonly name: string;
  readonly exhausted: Promise<void>;
  private position = 0;

  constructor(
    private readonly inner: AlertSource,
    private readonly opts: LabelledSourceOptions,
  ) {
    this.name = inner.name;
    this.exhausted = inner.exhausted;
  }

  start(intake: RecordIntake): Promise<void> {
    const now = this.opts.now ?? Date.now;
    const path = this.opts.labelPath;
    return this.inner.start({
      hasCapacity: () => intake.hasCapacity(),
      whenCapacity: () => intake.whenCapacity(),
      push: (record: SourceRecord) => {
        const position = this.position++;
        // A record the source already cut (too large) is dead-lettered as it is; it is never parsed here.
        const { value, label } = path && !record.full ? stripLabel(record.value, path) : { value: record.value, label: undefined };
        intake.push({
          ...record,
          value,
          ack: (outcome) => {
            record.ack(outcome);
            this.opts.onOutcome({ position, origin: record.origin, outcome, label, receivedAtMs: record.receivedAtMs, ackedAtMs: now() });
          },
        });
      },
    });
  }

  stopReading(): Promise<void> {
    return this.inner.stopReading();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
