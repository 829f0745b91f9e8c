/** What a NUL character in alert or verdict text becomes: U+2400 SYMBOL FOR NULL, visible and harmless downstream. */
export const NUL_SIGN = "\u2400";

/** An escaped NUL (`\u0000`) preceded by an even number of backslashes, i.e. not itself escaped text. */
const ESCAPED_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * JSON text with every NUL character (JSON.stringify writes it as `\u0000`) replaced by NUL_SIGN, so no consumer
 * of our output gets a NUL: C-string consumers cut the text there, and some stores (PostgreSQL text) reject it.
 * The literal text backslash-u0000 is left as it is.
 */
export function jsonWithoutNul(json: string): string {
  return json.includes("\\u0000") ? json.replace(ESCAPED_NUL, "$1\\u2400") : json;
}
