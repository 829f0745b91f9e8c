/**
 * Model answer text → validated items bound to the alert ids we asked about. Pure. A truncated or malformed array
 * is repaired only by keeping its complete objects (each still validated), never by guessing missing text.
 */
import { answerItemSchema, type AnswerItem } from "./answer-schema.js";
import { SEVERITIES } from "../../core/severity.js";

export interface ParsedAnswer {
  /** Items that passed validation, in answer order (may contain unknown or repeated ids). */
  items: AnswerItem[];
  /** Objects that failed validation. */
  invalid: number;
  /** True when the text was not valid JSON and complete objects were salvaged from it. */
  repaired: boolean;
}

/** Parse an answer: a JSON array of items, `{ <any>: [items] }`, or a single item; salvage a broken array. */
export function parseAnswerText(text: string): ParsedAnswer {
  const body = stripCodeFence(text);
  let raw: unknown[] | null = null;
  let repaired = false;
  try {
    raw = itemsOf(JSON.parse(body));
  } catch {
    raw = salvageObjects(body);
    repaired = true;
  }
  const items: AnswerItem[] = [];
  let invalid = 0;
  for (const r of raw ?? []) {
    const checked = answerItemSchema.safeParse(r);
    if (checked.success) items.push(checked.data);
    else invalid++;
  }
  return { items, invalid, repaired };
}

function stripCodeFence(text: string): string {
  const t = text.trim();
  const m = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(t);
  return m ? m[1]!.trim() : t;
}

function itemsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === "object") {
    if ("alert_id" in value) return [value];
    const arr = Object.values(value).find(Array.isArray);
    if (arr) return arr as unknown[];
  }
  return [];
}

/** Every complete top-level `{...}` inside the outermost array (or the text), parsed; incomplete tails dropped. */
function salvageObjects(text: string): unknown[] {
  const out: unknown[] = [];
  const start = text.indexOf("[");
  const from = start >= 0 ? start + 1 : 0;
  let depth = 0;
  let objStart = -1;
  let inString = false;
  let escaped = false;
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") {
      if (depth === 0 && ch === "{") objStart = i;
      depth++;
    } else if (ch === "}" || ch === "]") {
      if (depth === 0) break; // end of the outer array
      depth--;
      if (depth === 0 && objStart >= 0) {
        try {
          out.push(JSON.parse(text.slice(objStart, i + 1)));
        } catch {
          // not an object after all; skip it
        }
        objStart = -1;
      }
    }
  }
  return out;
}

/** Answers matched to the ids we asked about. */
export interface BoundAnswers {
  byId: Map<string, AnswerItem>;
  /** Asked ids with no valid item. */
  missing: string[];
  /** Ids in the answer we never asked about (ignored). */
  invented: string[];
  /** Asked ids answered more than once (resolved into one item). */
  duplicates: string[];
}

/** Bind items to the asked ids: unknown ids are ignored, repeated ids resolved, unanswered ids reported missing. */
export function bindAnswers(askedIds: readonly string[], items: readonly AnswerItem[]): BoundAnswers {
  const asked = new Set(askedIds);
  const byId = new Map<string, AnswerItem>();
  const invented = new Set<string>();
  const duplicates = new Set<string>();
  for (const item of items) {
    if (!asked.has(item.alert_id)) {
      invented.add(item.alert_id);
      continue;
    }
    const seen = byId.get(item.alert_id);
    if (seen) {
      duplicates.add(item.alert_id);
      byId.set(item.alert_id, resolveDuplicate(seen, item));
    } else byId.set(item.alert_id, item);
  }
  return { byId, missing: askedIds.filter((id) => !byId.has(id)), invented: [...invented], duplicates: [...duplicates] };
}

/** Two answers for one alert: agreeing ones keep the first; conflicting ones become needs_review (never a silent pick). */
export function resolveDuplicate(first: AnswerItem, second: AnswerItem): AnswerItem {
  if (first.classification === second.classification) return first;
  const severity = SEVERITIES.indexOf(first.severity) <= SEVERITIES.indexOf(second.severity) ? first.severity : second.severity;
  return {
    ...first,
    classification: "needs_review",
    severity,
    confidence: Math.min(first.confidence, second.confidence, 50),
    reasoning:
      `The model answered this alert twice with conflicting classifications (${first.classification} vs ${second.classification}). ${first.reasoning}`.slice(
        0,
        2000,
      ),
    recommended_actions: [...new Set([...first.recommended_actions, ...second.recommended_actions])].slice(0, 8),
    mitre_techniques: [...new Set([...first.mitre_techniques, ...second.mitre_techniques])].slice(0, 10),
  };
}
