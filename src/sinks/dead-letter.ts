import type { DeadLetter } from "../core/ports.js";

/** Headers describing why a record was dead-lettered and where it came from. */
export function deadLetterHeaders(letter: DeadLetter): Record<string, string> {
  const h: Record<string, string> = {
    "triage-error-code": letter.code,
    "triage-error-message": letter.message.slice(0, 1000),
    "triage-failed-at": new Date(letter.failedAtMs).toISOString(),
  };
  if (letter.origin.topic !== undefined) h["triage-source-topic"] = letter.origin.topic;
  if (letter.origin.partition !== undefined) h["triage-source-partition"] = String(letter.origin.partition);
  if (letter.origin.offset !== undefined) h["triage-source-offset"] = letter.origin.offset;
  if (letter.origin.line !== undefined) h["triage-source-line"] = String(letter.origin.line);
  return h;
}

/** NDJSON form of a dead letter for file/stdout sinks: the original bytes as text when UTF-8, else base64. */
export function deadLetterJson(letter: DeadLetter): Record<string, unknown> {
  const value = letter.value;
  let text: string | null = null;
  if (value) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(value);
    } catch {
      text = null;
    }
  }
  return {
    error_code: letter.code,
    error_message: letter.message,
    origin: letter.origin,
    failed_at: new Date(letter.failedAtMs).toISOString(),
    ...(value === null ? { value: null } : text !== null ? { value: text } : { value_base64: value.toString("base64") }),
  };
}
