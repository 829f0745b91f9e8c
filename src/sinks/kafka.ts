import { jsonWithoutNul } from "../core/nul.js";
import type { DeadLetterSink, VerdictSink, OutgoingMessage, StreamProducer } from "../core/ports/index.js";
import { VERDICT_SCHEMA_VERSION, type Verdict } from "../core/verdict.js";
import { boundValue, deadLetterHeaders } from "./dead-letter.js";

/** Stay well under the broker's default message.max.bytes (1 MiB), which bounds a whole record batch. */
const MAX_SEND_BYTES = 512 * 1024;
const MAX_VERDICT_BYTES = 256 * 1024;

/** Encoded size of each headers object, once per object (verdicts share one; a dead letter's are its own). */
const headerSizes = new WeakMap<Record<string, string>, number>();

/** UTF-8 bytes of a headers object: a dead letter's (a long, possibly non-ASCII reason) can outweigh its value. */
function headerBytes(headers: Record<string, string> | undefined): number {
  if (!headers) return 0;
  let size = headerSizes.get(headers);
  if (size === undefined) {
    size = 0;
    for (const key in headers) size += 8 + Buffer.byteLength(key) + Buffer.byteLength(headers[key]!);
    headerSizes.set(headers, size);
  }
  return size;
}

const sizeOf = (m: OutgoingMessage) => 32 + (m.value?.length ?? 0) + (m.key?.length ?? 0) + headerBytes(m.headers);

/** Send in chunks whose total size fits one broker request. */
async function sendChunked(producer: StreamProducer, topic: string, messages: OutgoingMessage[]): Promise<void> {
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (chunk.length > 0 && bytes + size > MAX_SEND_BYTES) {
      await producer.send(topic, chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) await producer.send(topic, chunk);
}

/**
 * Coalesces concurrent sends to one topic: while one request is in flight, later messages queue and go
 * together in the next one (like a producer's linger), so throughput does not depend on micro-batch size.
 * Each caller resolves when the request carrying its messages is acknowledged by the broker.
 */
export class CoalescingSender {
  private queue: { messages: OutgoingMessage[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly producer: StreamProducer,
    private readonly topic: string,
  ) {}

  send(messages: OutgoingMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await sendChunked(
          this.producer,
          this.topic,
          group.flatMap((g) => g.messages),
        );
        for (const g of group) g.resolve();
      } catch (err) {
        for (const g of group) g.reject(err);
      }
    }
    this.flushing = false;
  }
}

/**
 * Verdict JSON; an oversized alert copy is trimmed (raw/fields dropped, description cut) so the verdict always fits.
 * NUL characters (from the model's text, which is untrusted) are written as NUL_SIGN.
 */
export function encodeVerdict(v: Verdict): string {
  const json = jsonWithoutNul(JSON.stringify(v));
  // A UTF-8 byte count is at most 3 per UTF-16 unit: most verdicts need no byte count.
  if (json.length * 3 <= MAX_VERDICT_BYTES || Buffer.byteLength(json) <= MAX_VERDICT_BYTES) return json;
  const alert = { ...v.alert, raw: undefined, fields: { triage_truncated: true }, description: v.alert.description?.slice(0, 4096) ?? null };
  return jsonWithoutNul(JSON.stringify({ ...v, alert }));
}

/** The same headers on every verdict: one object shared by all messages (the client only reads it). */
const VERDICT_HEADERS: Record<string, string> = { "triage-schema-version": VERDICT_SCHEMA_VERSION };

/** Verdicts to the output topic, keyed by alert_id so one alert's verdicts stay ordered. */
export function kafkaVerdictSink(producer: StreamProducer, topic: string): VerdictSink {
  const sender = new CoalescingSender(producer, topic);
  return {
    publish: (verdicts) => sender.send(verdicts.map((v) => ({ key: v.alert_id, value: encodeVerdict(v), headers: VERDICT_HEADERS }))),
    close: async () => {},
  };
}

/**
 * Dead letters to the DLQ topic: the original bytes as value, cut to `maxValueBytes` so that a record as large as
 * the broker accepts, plus our headers, still fits (else MESSAGE_TOO_LARGE would fail it on every restart); the
 * reason, origin, original size and SHA-256 in headers.
 */
export function kafkaDeadLetterSink(producer: StreamProducer, topic: string, opts: { maxValueBytes: number }): DeadLetterSink {
  const sender = new CoalescingSender(producer, topic);
  return {
    write: (letters) =>
      sender.send(
        letters.map((l) => {
          const bounded = boundValue(l, opts.maxValueBytes);
          return { key: null, value: bounded.value, headers: deadLetterHeaders(l, bounded) };
        }),
      ),
    close: async () => {},
  };
}
