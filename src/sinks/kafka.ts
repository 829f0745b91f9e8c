import type { DeadLetterSink, VerdictSink } from "../core/ports.js";
import { VERDICT_SCHEMA_VERSION } from "../core/verdict.js";
import type { StreamProducer } from "../resources/kafka.js";
import { deadLetterHeaders } from "./dead-letter.js";

/** Verdicts to the output topic, keyed by alert_id so one alert's verdicts stay ordered. */
export function kafkaVerdictSink(producer: StreamProducer, topic: string): VerdictSink {
  return {
    publish: (verdicts) =>
      producer.send(
        topic,
        verdicts.map((v) => ({ key: v.alert_id, value: JSON.stringify(v), headers: { "content-type": "application/json", "triage-schema-version": VERDICT_SCHEMA_VERSION } })),
      ),
    close: async () => {},
  };
}

/** Dead letters to the DLQ topic: the original bytes as value, the reason and origin in headers. */
export function kafkaDeadLetterSink(producer: StreamProducer, topic: string): DeadLetterSink {
  return {
    write: (letters) => producer.send(topic, letters.map((l) => ({ key: null, value: l.value, headers: deadLetterHeaders(l) }))),
    close: async () => {},
  };
}
