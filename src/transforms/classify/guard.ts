/**
 * Deterministic checks around the model (pure). Before: an alert whose content looks like instructions is asked
 * alone and its answer is never reused (llm-classifier). After: whatever the model says, such an alert, or one
 * whose IP has strong threat intel, is never closed as an automatic false_positive.
 */
import type { Alert } from "../../core/alert.js";
import type { Enrichment } from "../../core/enrichment.js";
import type { EnrichedAlert } from "../../core/ports/index.js";
import { SEVERITIES } from "../../core/severity.js";
import type { Decision } from "../../core/verdict.js";

export interface GuardOptions {
  /** AbuseIPDB confidence at or above which false_positive is refused. */
  abuseScoreMin: number;
  /** VirusTotal malicious engine count at or above which false_positive is refused. */
  vtMaliciousMin: number;
}

/**
 * Instruction-like content, matched on normalised text (lower case, NFKD without combining marks, no zero-width
 * characters, `_`/`-`/whitespace runs as one space) and on folded variants of it (see `readings`). Deliberately
 * broad: a false alarm only costs an analyst a look.
 */
const LABEL =
  "(benign|harmless|safe|false positive|false alarm|not malicious|non malicious|legitimate|clean|expected|resolved|low " +
  "risk|authori[sz]ed|approved|whitelisted|allowlisted|non ?issue|no threat|not a threat|noise|true negative)";
const INJECTION_PATTERNS: readonly RegExp[] = [
  // long: one regex literal, left whole so the injection guard provably matches exactly what it did
  /(ignore|disregard|forget|override|bypass)( (all|any|the|your|these|those|my|of|previous|prior|above|earlier|preceding|system|original|existing|safety))* (instructions?|prompts?|rules|directions|guidelines|directives|policy|policies|context)/,
  /disregard( all| any)?( the)? (previous|prior|above|earlier|system)/,
  new RegExp(`(classify|mark|label|flag|treat|report|tag|categori[sz]e|consider|close|resolve)( \\S+){0,8} ${LABEL}`),
  // "… as benign" after such a verb is a strong signal even far from the verb (labels that rarely follow "as" in logs).
  // long: one regex literal, left whole so the injection guard provably matches exactly what it did
  /(classify|mark|label|flag|treat|report|tag|categori[sz]e|consider|close|resolve|answer|respond)( \S+){0,30} as (benign|harmless|safe|false positive|false alarm|not malicious|non malicious|legitimate|authori[sz]ed|approved|whitelisted|allowlisted|no threat|not a threat|true negative)\b/,
  /false ?positive|false alarm/,
  // long: one regex literal, left whole so the injection guard provably matches exactly what it did
  /(dismiss|suppress|auto ?close|whitelist|allowlist|silence|mute)( (this|these|those|the|all|every|other|them|it|of))* (alerts?|events?|incidents?|detections?|findings?|it|them|this|these)\b/,
  // long: one regex literal, left whole so the injection guard provably matches exactly what it did
  /(you are|you're|you will be) now|act as (a|an|the)|pretend (to be|you are)|role ?play|from now on,? you|new instructions|updated instructions|system prompt|system message|developer (mode|message)|jailbreak|do anything now/,
  /<\/?(system|assistant|developer|user|instructions?)>|\[\/?(system|inst)\]|<\|im_(start|end)\|>|###\s*(system|instruction)/,
  /(do not|don't|dont|never) (alert|escalate|flag|report|notify|raise|investigate)/,
  // A request-local prompt id (a1 … aN) named in alert text: an answer forged for, or text aimed at, another alert.
  /\balert ?ids? a ?\d{1,4}\b/,
  // Other languages (folded: accents removed). A model reads them as well as English.
  // long: one regex literal, left whole so the injection guard provably matches exactly what it did
  /faux positifs?|ignore[rz]? (toutes? )?(les |vos |ces )?(instructions|consignes|regles)|class(e|ez|er) \S+( \S+){0,6} comme (benin|benigne|faux|legitime|sans danger)/,
  /fals[oa]s? positiv[oa]s?|ignora(r|d|te)? (todas? |tutte )?(las |los |as |os |le )?(instrucciones|instrucoes|istruzioni|reglas|regras|regole)/,
  /falsch ?positiv|fehlalarm|ignorier(e|en|t)? (alle |die )?(vorherigen |bisherigen |obigen )?(anweisungen|regeln|instruktionen)/,
  /ложн\S* (срабатыван|позитив|тревог)|игнорир\S* (все |всех )?(предыдущ\S* )?(инструкц|правил)/,
  /误报|誤報|假阳性|假陽性|誤検知|誤検出|忽略.{0,8}(指令|指示|规则|規則|提示)|无视.{0,8}(指令|规则)|(指示|指令)を無視/,
];

/** The same phrases written without spaces ("f a l s e p o s i t i v e" once its letters are joined). */
const COMPACT_PATTERNS: readonly RegExp[] = [
  /(ignore|disregard|forget|override|bypass)(all|any|the|your|these|previous|prior|above|earlier|system)*(instructions?|prompts?|rules)/,
  /falsepositive|falsealarm/,
  /(classify|mark|label|treat)(this|it|the|all|alerts?|these|them|as)*(benign|harmless|safe|legitimate|falsepositive)/,
  /donot(escalate|alert|flag|report)|youarenow|newinstructions|systemprompt/,
];

const ZERO_WIDTH = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g;

/** Fold text so spacing, case, width, accent and separator tricks do not hide a phrase. */
export function normaliseForGuard(text: string): string {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(ZERO_WIDTH, "")
    .replace(/[\s_-]+/g, " ");
}

/** Letters of other scripts (and small capitals) a reader takes for Latin ones: Cyrillic, Greek, IPA. */
const CONFUSABLE: Readonly<Record<string, string>> = {
  а: "a",
  в: "b",
  е: "e",
  ё: "e",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
  і: "i",
  ї: "i",
  ј: "j",
  ѕ: "s",
  ԁ: "d",
  ԛ: "q",
  ԝ: "w",
  ӏ: "l",
  α: "a",
  β: "b",
  γ: "y",
  ε: "e",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  ς: "s",
  η: "n",
  ɑ: "a",
  ɡ: "g",
  ɩ: "i",
  ɪ: "i",
  ʟ: "l",
  ɴ: "n",
  ʀ: "r",
  ʏ: "y",
  ʙ: "b",
  ɢ: "g",
  ʜ: "h",
  ᴀ: "a",
  ᴄ: "c",
  ᴅ: "d",
  ᴇ: "e",
  ꜰ: "f",
  ᴊ: "j",
  ᴋ: "k",
  ᴍ: "m",
  ᴏ: "o",
  ᴘ: "p",
  ꜱ: "s",
  ᴛ: "t",
  ᴜ: "u",
  ᴠ: "v",
  ᴡ: "w",
  ᴢ: "z",
};
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLE).join("")}]`, "g");
const HAS_CONFUSABLE = new RegExp(`[${Object.keys(CONFUSABLE).join("")}]`);
const LEET: Readonly<Record<string, string>> = { "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", $: "s", "!": "i", "|": "i" };
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  nbsp: " ",
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  lowbar: "_",
  hyphen: "-",
  dash: "-",
  sol: "/",
  period: ".",
};

/** Escapes a reader (or our own JSON.parse of an echoed answer) decodes: JSON/JS, percent, HTML, Unicode tags. */
function decodeEscapes(text: string): string {
  let t = text;
  for (let round = 0; round < 3; round++) {
    const before = t;
    t = t
      .replace(/\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})/g, (m, a?: string, b?: string, c?: string) =>
        safeChar(parseInt(a ?? b ?? c ?? "", 16), m),
      )
      .replace(/%([0-9a-fA-F]{2})/g, (m, h: string) => safeChar(parseInt(h, 16), m))
      .replace(/&#(\d{1,7});?|&#x([0-9a-fA-F]{1,6});?/g, (m, d?: string, h?: string) => safeChar(d !== undefined ? parseInt(d, 10) : parseInt(h ?? "", 16), m))
      .replace(/&([a-z]+);/gi, (m, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? m);
    if (t === before) break;
  }
  // Unicode tag characters (U+E0020–E007E) mirror ASCII, invisible on screen, readable to models ("ASCII smuggling").
  return t.replace(/[\u{e0020}-\u{e007e}]/gu, (c) => String.fromCharCode(c.codePointAt(0)! - 0xe0000));
}

function safeChar(code: number, original: string): string {
  return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : original;
}

/** Base64 (and base64url) runs that decode to readable text, UTF-8 or UTF-16LE (PowerShell -EncodedCommand). */
function base64Texts(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)) {
    const buf = Buffer.from(m[0].replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (buf.length < 8) continue;
    const utf16 = buf.length % 2 === 0 && buf.every((b, i) => i % 2 === 0 || b === 0);
    const decoded = utf16 ? buf.toString("utf16le") : buf.toString("utf8");
    if (readable(decoded)) out.push(decoded);
    if (out.length >= 8) break;
  }
  return out;
}

function readable(s: string): boolean {
  const printable = s.replace(/[^\p{L}\p{N}\p{P}\p{Zs}]/gu, "").length;
  // Fixed-width (no backtracking over long runs): two letters, a space, two letters.
  return printable >= s.length * 0.9 && /\p{L}\p{L}\s\p{L}\p{L}/u.test(s);
}

const SPACED_OUT = /[\p{P}\p{S}\u02b0-\u02ff]+/gu;
const LEET_WORD = /\p{L}[0-9@$!|]|[0-9@$!|]\p{L}/u;
const LETTER_RUN = /(?:^|(?<= ))(?:\p{L} ){2,}\p{L}(?= |$)/gu;

/** Punctuation, symbols and modifier letters (our datamark ˆ among them) read as spaces. */
function spaced(s: string): string {
  return s.replace(SPACED_OUT, " ").replace(/\s+/g, " ").trim();
}

/**
 * The readings of one text a model might take: as written (folded), decoded (escapes, tags, base64), with look-alike
 * letters and digits read as letters, punctuation and datamarks read as spaces; and, apart, letter-spaced words
 * joined ("f a l s e", "i.g.n.o.r.e"), which are also matched without any spaces.
 */
function readings(text: string): { texts: string[]; joined: string[] } {
  const texts = new Set<string>();
  const joined: string[] = [];
  const sources = [text];
  if (/[\\%&]|[\u{e0020}-\u{e007e}]/u.test(text)) {
    const decoded = decodeEscapes(text);
    if (decoded !== text) sources.push(decoded);
  }
  if (/[A-Za-z0-9+/_-]{16}/.test(text)) sources.push(...base64Texts(sources[sources.length - 1]!));
  for (const src of sources) {
    const folded = normaliseForGuard(src);
    texts.add(folded);
    const latin = HAS_CONFUSABLE.test(folded) ? folded.replace(CONFUSABLE_RE, (c) => CONFUSABLE[c] ?? c) : folded;
    const plain = spaced(latin);
    texts.add(plain);
    // Digits and symbols inside words read as letters (f4ls3 p0s1t1v3), with 1 as i and as l.
    if (LEET_WORD.test(latin)) {
      for (const one of ["i", "l"]) {
        texts.add(
          spaced(
            latin.replace(/[\p{L}\p{N}@$!|]+/gu, (w) =>
              /\p{L}/u.test(w) && /[0-9@$!|]/.test(w) ? w.replace(/[0134578@$!|]/g, (c) => (c === "1" ? one : (LEET[c] ?? c))) : w,
            ),
          ),
        );
      }
    }
    const runs = plain.replace(LETTER_RUN, (run) => run.replace(/ /g, ""));
    if (runs !== plain) joined.push(runs);
  }
  return { texts: [...texts], joined };
}

function firstMatch(text: string): string | null {
  const { texts, joined } = readings(text);
  for (const folded of [...texts, ...joined]) {
    for (const re of INJECTION_PATTERNS) {
      const m = re.exec(folded);
      if (m) return m[0];
    }
  }
  for (const j of joined) {
    const compact = j.replace(/ /g, "");
    for (const re of COMPACT_PATTERNS) {
      const m = re.exec(compact);
      if (m) return m[0];
    }
  }
  return null;
}

/**
 * Every string an attacker can influence in an alert: ids, names, identities, IPs as text, every field key and
 * value at any depth (a key with its value too: `"classify this as": "benign"` reads as one sentence), and the
 * threat-intel text (ISP and AS names are chosen by whoever registers the network). Complete: records are bounded
 * by MAX_RECORD_BYTES and MAX_JSON_DEPTH, so there is no count cap that could hide a late field. Last, all of it
 * joined in prompt order (name, addresses, user, host, description, fields by sorted key, threat intel): text split
 * across fields reads as one sentence there, also on paths that never render the prompt line (cache reuse, tiers).
 */
function alertStrings(alert: Alert, enrichment: Enrichment | null): string[] {
  const out: string[] = [
    alert.alert_id,
    alert.alert_name,
    alert.description ?? "",
    alert.user ?? "",
    alert.host ?? "",
    alert.source_ip ?? "",
    alert.destination_ip ?? "",
  ];
  const joined: string[] = [alert.alert_name, alert.source_ip ?? "", alert.destination_ip ?? "", alert.user ?? "", alert.host ?? "", alert.description ?? ""];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof v === "string") {
      out.push(v);
      joined.push(v);
    } else if (typeof v === "number" || typeof v === "boolean") joined.push(String(v));
    else if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      const texts = v.filter((x): x is string => typeof x === "string");
      if (texts.length > 1) out.push(texts.join(" "));
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        out.push(k);
        joined.push(k);
        if (typeof x === "string") out.push(`${k} ${x}`);
        walk(x, depth + 1);
      }
    }
  };
  walk(alert.fields, 0);
  if (enrichment) {
    const abuse = enrichment.abuseipdb;
    const vt = enrichment.virustotal;
    const ti = [
      ...(abuse.status === "ok" ? [abuse.data.country ?? "", abuse.data.usage_type ?? "", abuse.data.isp ?? ""] : []),
      ...(vt.status === "ok" ? [vt.data.as_owner ?? "", vt.data.country ?? ""] : []),
    ];
    out.push(...ti);
    joined.push(...ti);
  }
  out.push(joined.filter((s) => s !== "").join(" "));
  return out;
}

/** Last results per alert object: the same alert is checked by several decorators (tiers, cache, classifier, guard). */
const memo = new WeakMap<Alert, { enrichment: Enrichment | null; found: string | null }>();

/** The first instruction-like fragment anywhere in the alert or its threat intel, or null. */
export function findInjection(alert: Alert, enrichment: Enrichment | null = null): string | null {
  const hit = memo.get(alert);
  if (hit && hit.enrichment === enrichment) return hit.found;
  let found: string | null = null;
  for (const s of alertStrings(alert, enrichment)) {
    if (s === "") continue;
    found = firstMatch(s);
    if (found !== null) break;
  }
  memo.set(alert, { enrichment, found });
  return found;
}

/**
 * The first instruction-like fragment in a rendered prompt line (what the model reads), or null: the line's JSON
 * escapes undone in one pass (so an escape the attacker wrote stays an escape, decoded like any alert text), and
 * punctuation and the spotlighting marker read as spaces, so text split across keys, values or nesting still reads
 * as the sentence the model would see.
 */
export function findInjectionInText(rendered: string): string | null {
  const plain = rendered
    // The line's own request-local id is ours, not alert text.
    .replace(/^\{"alert_id":"a\d+",?/, "{")
    .replace(/\\(u[0-9a-fA-F]{4}|["\\/bfnrt])/g, (_, e: string) =>
      e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : e === "\\" ? "\\" : e === '"' || e === "/" ? e : " ",
    )
    .replace(/[\u02c6"{}[\]:,]/g, " ");
  return firstMatch(plain);
}

/** Why the threat intel is too strong to close the alert as benign, or null. */
export function strongThreatIntel(enrichment: Enrichment | null, opts: GuardOptions): string | null {
  if (!enrichment) return null;
  const reasons: string[] = [];
  const abuse = enrichment.abuseipdb;
  if (abuse.status === "ok" && abuse.data.abuse_confidence_score >= opts.abuseScoreMin)
    reasons.push(`AbuseIPDB confidence ${abuse.data.abuse_confidence_score}`);
  const vt = enrichment.virustotal;
  if (vt.status === "ok" && vt.data.malicious >= opts.vtMaliciousMin) reasons.push(`${vt.data.malicious} VirusTotal engines flag it`);
  return reasons.length > 0 ? `${enrichment.ip ?? "the IP"} has strong threat intel (${reasons.join(", ")})` : null;
}

const GUARD_NOTE = " [guard] Automatic false_positive refused: ";
const REVIEW_ACTION = "Review manually before closing";

/** Whether this is a false_positive the guard raised for the source's threat intel alone. */
export function refusedForThreatIntel(d: Decision): d is Decision & { guard: NonNullable<Decision["guard"]> } {
  return d.guard?.reason === "threat_intel" && d.classification === "needs_review";
}

/**
 * The model's false_positive behind an answer the guard raised for threat intel alone, or null: its reasoning without
 * the guard's note, its actions without the guard's review step (the closing actions the guard removed stay
 * removed), its own severity. What the verdict memory stores for such an answer, so that every reuse is guarded
 * again for the alert at hand instead of repeating the guard's words about another source.
 */
export function refusedAnswer(d: Decision): Decision | null {
  if (!refusedForThreatIntel(d)) return null;
  const at = d.reasoning.lastIndexOf(GUARD_NOTE);
  const actions = d.recommended_actions.at(-1) === REVIEW_ACTION ? d.recommended_actions.slice(0, -1) : d.recommended_actions;
  return {
    ...d,
    classification: "false_positive",
    severity: d.guard.severity,
    reasoning: at > 0 ? d.reasoning.slice(0, at) : d.reasoning,
    recommended_actions: actions,
    guard: null,
  };
}

/**
 * Raise an automatic false_positive to needs_review when the alert's content is instruction-like or the TI is
 * strong. `seen`: instruction-like text the caller already found (e.g. in the rendered prompt line); the alert
 * itself is always searched too.
 */
export function applyGuard(item: EnrichedAlert, decision: Decision, opts: GuardOptions, seen: string | null = null): Decision {
  if (decision.classification !== "false_positive") return decision;
  const reasons: string[] = [];
  const injected = seen ?? findInjection(item.alert, item.enrichment);
  if (injected !== null) reasons.push(`the alert text contains instruction-like content ("${injected.slice(0, 60)}"), which may be a prompt-injection attempt`);
  const ti = strongThreatIntel(item.enrichment, opts);
  if (ti !== null) reasons.push(ti);
  if (reasons.length === 0) return decision;
  const severity = SEVERITIES.indexOf(decision.severity) <= SEVERITIES.indexOf(item.alert.severity) ? decision.severity : item.alert.severity;
  const note = `${GUARD_NOTE}${reasons.join("; ")}.`;
  return {
    ...decision,
    classification: "needs_review",
    severity,
    confidence: Math.min(decision.confidence, 50),
    reasoning: `${decision.reasoning.slice(0, 4000 - note.length)}${note}`,
    // Raised for instruction-like text: shaped by a suspicious alert, never reused or learned from. Raised for threat intel
    // alone: still the model's answer to what it was shown (our enrichment, not the sender's text), learnable as it was —
    // the verdict memory learns it under a label of its own (never as a dismissal) and this guard runs again on reuse.
    guard: { reason: injected !== null ? "instructions" : "threat_intel", severity: decision.severity },
    learnable: injected !== null ? false : decision.learnable,
    recommended_actions: [...decision.recommended_actions.filter((a) => !/close|benign/i.test(a)), REVIEW_ACTION],
  };
}
