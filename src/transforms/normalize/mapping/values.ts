import { isIP } from "node:net";
import { compilePath, firstValue, type CompiledPath } from "./paths.js";

/**
 * Epoch number → milliseconds, the unit told by magnitude: below 1e11 seconds (until year 5138), below 1e14
 * milliseconds, below 1e17 microseconds, else nanoseconds (Falco evt.time, Zeek-derived tools).
 */
export function epochToMs(n: number): number {
  const a = Math.abs(n);
  if (a < 1e11) return n * 1000;
  if (a < 1e14) return n;
  if (a < 1e17) return n / 1000;
  return n / 1e6;
}

const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$/;
const ZONELESS = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/;

/**
 * ISO-8601 UTC from an ISO/RFC text (zone-less date-times read as UTC, `+0000` offsets and 4–9 fraction
 * digits accepted) or an epoch number / numeric text in s, ms, µs or ns; null when unparseable.
 */
export function parseTime(value: unknown): string | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    ms = epochToMs(value);
  } else if (typeof value === "string") {
    const t = value.trim();
    if (t === "" || t.length > 64) return null;
    if (CANONICAL.test(t))
      ms = Date.parse(t); // the common case (already ISO-8601 UTC), one parse
    else if (/^-?\d+(\.\d+)?$/.test(t)) ms = epochToMs(Number(t));
    else {
      let iso = t.replace(/(\.\d{3})\d+/, "$1").replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
      if (ZONELESS.test(iso)) iso = `${iso.replace(" ", "T")}Z`;
      ms = Date.parse(iso);
      if (Number.isNaN(ms)) ms = Date.parse(t);
    }
  } else return null;
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** An address with an optional port: `203.0.113.5:22`, `[2001:db8::1]:443`; null port when there is none. */
export function splitHostPort(text: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (v4) return { host: v4[1]!, port: Number(v4[2]) };
  return { host: text, port: null };
}

export const isIpText = (text: string): boolean => isIP(text) !== 0;

/** A value as message text: numbers (also non-finite ones) by their decimal form, the rest as JSON, shortened. */
export function renderValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (value === undefined) return "(missing)";
  return (JSON.stringify(value) ?? String(value)).slice(0, 40);
}

/** `{path}` (text) and `{path|json}` (JSON) placeholders, compiled once. */
export function compileTemplate(template: string): (doc: Record<string, unknown>, root: Record<string, unknown>) => string {
  const parts: (string | { path: CompiledPath[]; json: boolean })[] = [];
  const re = /\{([^{}|]+)(\|json)?\}/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    parts.push(template.slice(last, m.index), { path: [compilePath(m[1]!.trim())], json: m[2] !== undefined });
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  return (doc, root) =>
    parts
      .map((p) => {
        if (typeof p === "string") return p;
        const v = firstValue(p.path, doc, root);
        if (p.json) return renderValue(v);
        return typeof v === "string" ? v.slice(0, 120) : renderValue(v);
      })
      .join("");
}
