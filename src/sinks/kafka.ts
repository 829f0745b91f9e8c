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

/** Verdict JSON; an oversized alert copy is trimmed (raw/fields dropped, description cut) so the verdict always fits. */
export function encodeVerdict(v: Verdict): string {
  const json = JSON.stringify(v);
  if (Buffer.byteLength(json) <= MAX_VERDICT_BYTES) return json;
  const alert = { ...v.alert, raw: undefined, fields: { triage_truncated: true }, description: v.alert.description?.slice(0, 4096) ?? null };
  return JSON.stringify({ ...v, alert });
}

/** Verdicts to the output topic, keyed by alert_id so one alert's verdicts stay ordered. */
export function kafkaVerdictSink(producer: StreamProducer, topic: string): VerdictSink {
  return {
    publish: (verdicts) =>
      sendChunked(
        producer,
        topic,
        verdicts.map((v) => ({ key: v.alert_id, value: encodeVerdict(v), headers: { "content-type": "application/json", "triage-schema-version": VERDICT_SCHEMA_VERSION } })),
      ),
    close: async () => {},
  };
}

/** Dead letters to the DLQ topic: the original bytes as value, the reason and origin in headers. */
export function kafkaDeadLetterSink(producer: StreamProducer, topic: string): DeadLetterSink {
  return {
    write: (letters) => sendChunked(producer, topic, letters.map((l) => ({ key: null, value: l.value, headers: deadLetterHeaders(l) }))),
    close: async () => {},
  };
}
