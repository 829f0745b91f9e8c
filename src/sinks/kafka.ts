import type { DeadLetterSink, VerdictSink } from "../core/ports.js";
import { VERDICT_SCHEMA_VERSION, type Verdict } from "../core/verdict.js";
import type { OutgoingMessage, StreamProducer } from "../resources/kafka.js";
import { deadLetterHeaders } from "./dead-letter.js";

/** Stay well under the broker's default message.max.bytes (1 MiB), which bounds a whole record batch. */
const MAX_SEND_BYTES = 512 * 1024;
const MAX_VERDICT_BYTES = 256 * 1024;

const sizeOf = (m: OutgoingMessage) => (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64 * Object.keys(m.headers ?? {}).length;

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

  constructor(private readonly producer: StreamProducer, private readonly topic: string) {}

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
        await sendChunked(this.producer, this.topic, group.flatMap((g) => g.messages));
        for (const g of group) g.resolve();
      } catch (err) {
        for (const g of group) g.reject(err);
      }
    }
    this.flushing = false;
  }
}

/** Verdict JSON; an oversized alert copy is trimmed (raw/fields dropped, description cut) so the verdict always fits. */
export function encodeVerdict(v: Verdict): string {
  const json = JSON.stringify(v);
  if (Buffer.byteLength(json) <= MAX_VERDICT_BYTES) return json;
  const alert = { ...v.alert, raw: undefined, fields: { triage_truncated: true }, description: v.alert.description?.slice(0, 4096) ?? null };
  return JSON.stringify({ ...v, alert });
}

/** Verdicts to the output topic, keyed by alert_id so one alert's verdicts stay ordered. */
export function kafkaVerdictSink(producer: StreamProducer, topic: string): VerdictSink {
  const sender = new CoalescingSender(producer, topic);
  return {
    publish: (verdicts) =>
      sender.send(
        verdicts.map((v) => ({ key: v.alert_id, value: encodeVerdict(v), headers: { "triage-schema-version": VERDICT_SCHEMA_VERSION } })),
      ),
    close: async () => {},
  };
}

/** Dead letters to the DLQ topic: the original bytes as value, the reason and origin in headers. */
export function kafkaDeadLetterSink(producer: StreamProducer, topic: string): DeadLetterSink {
  const sender = new CoalescingSender(producer, topic);
  return {
    write: (letters) => sender.send(letters.map((l) => ({ key: null, value: l.value, headers: deadLetterHeaders(l) }))),
    close: async () => {},
  };
}
