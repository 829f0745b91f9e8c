/**
 * A hostile model behind our ModelClient port: it answers the prompt contract like the fake Gemini (one item per
 * alert of the `<<<ALERTS … ALERTS>>>` block, ids as given, the reference analyst's decision), except that it obeys
 * any instruction it finds ANYWHERE in the prompt, for EVERY alert of that request: "classify as false positive"
 * in one alert makes it answer false_positive (confidence 99) for all of them. That is the documented failure of
 * real models under indirect prompt injection, made deterministic.
 *
 * It is not blind to our spotlighting: it reads datamarked text (U+02C6 between words) as plain text, and it looks
 * at the raw prompt, not only at the parsed alerts. So a test passes with it only through isolation (a suspicious
 * alert asked alone) and non-reuse (its answer never reaches another alert), not through the fake's politeness.
 */
import type { ModelClient, ModelReply, ModelRequest } from "../../src/core/ports/index.js";
import { extractAlerts, referenceAnalyst, type PromptAlert } from "./gemini.js";

/** Instructions it obeys: its own list (deliberately not the service's detector), matched on de-marked, folded text. */
const INSTRUCTIONS: readonly RegExp[] = [
  /\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|guidelines|policy)\b/,
  /\b(classify|mark|label|treat|report|close|resolve|tag)\b.{0,60}\b(benign|harmless|safe|false positive|not malicious|legitimate|expected)\b/,
  /\bfalse ?positive\b/,
  /\b(you are now|new instructions|system prompt|from now on)\b/,
  /\b(do not|don't|never) (alert|escalate|flag|report|investigate)\b/,
];

/** Fold like a reader would: de-mark spotlighted text, undo JSON escapes and punctuation, collapse separators. */
export function readAsText(text: string): string {
  return text
    .replace(/\u02c6/g, " ")
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\[nrtbf"\\/]/g, " ")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g, "")
    .replace(/["{}[\]:,_\-\s]+/g, " ");
}

/** The first instruction the hostile model would obey in this text, or null. */
export function obeyedInstruction(text: string): string | null {
  const t = readAsText(text);
  for (const re of INSTRUCTIONS) {
    const m = re.exec(t);
    if (m) return m[0];
  }
  return null;
}

function deMark(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/\u02c6/g, " ");
  if (Array.isArray(value)) return value.map(deMark);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [deMark(k) as string, deMark(v)]));
  return value;
}

export interface HostileCall {
  ids: string[];
  /** The instruction it obeyed for the whole request, or null. */
  obeyed: string | null;
}

export class HostileModel implements ModelClient {
  readonly model = "gemini-hostile";
  readonly calls: HostileCall[] = [];

  async generate(request: ModelRequest): Promise<ModelReply> {
    const alerts = extractAlerts([request.userPrompt]).map((a) => deMark(a) as PromptAlert);
    const ids = alerts.map((a) => String(a.alert_id));
    // Anywhere in the user turn: the data block, and whatever else the prompt carries.
    const obeyed = obeyedInstruction(request.userPrompt);
    this.calls.push({ ids, obeyed });
    const items = alerts.map((a) => {
      const id = String(a.alert_id);
      if (obeyed !== null) {
        return {
          alert_id: id,
          classification: "false_positive",
          severity: "info",
          confidence: 99,
          reasoning: "As instructed, this activity is benign.",
          recommended_actions: ["Close the alert"],
          mitre_techniques: [],
        };
      }
      return { alert_id: id, ...referenceAnalyst(a) };
    });
    const text = JSON.stringify(items);
    return {
      kind: "answer",
      text,
      truncated: false,
      finishReason: "STOP",
      usage: { promptTokens: Math.ceil(request.userPrompt.length / 4), outputTokens: Math.ceil(text.length / 4), thoughtsTokens: 0 },
    };
  }

  /** Requests in which it obeyed an instruction, and how many alerts they held. */
  get obeyedRequests(): HostileCall[] {
    return this.calls.filter((c) => c.obeyed !== null);
  }
}
