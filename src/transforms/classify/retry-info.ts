/** Server retry hints of a Gemini 429 (google.rpc.RetryInfo), parsed without trusting their shape. */

/** Milliseconds of a proto Duration string ("26s", "0.5s", "1.250s"); null when it is not one. */
export function parseProtoDurationMs(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(value);
  if (!m) return null;
  const ms = Math.ceil(Number(m[1]) * 1000);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The retry delay a 429 asks for: RetryInfo.retryDelay in error.details, else the "Please retry in Ns." text
 * of the message (newer bodies carry both, older ones only one); null when the server gave no hint.
 */
export function retryDelayMs(details: unknown, message = ""): number | null {
  if (Array.isArray(details)) {
    for (const d of details) {
      if (d === null || typeof d !== "object") continue;
      const type = (d as Record<string, unknown>)["@type"];
      if (typeof type === "string" && type.endsWith("google.rpc.RetryInfo")) {
        const ms = parseProtoDurationMs((d as Record<string, unknown>).retryDelay);
        if (ms !== null) return ms;
      }
    }
  }
  const m = /retry in (\d+(?:\.\d+)?)\s*s\b/i.exec(message);
  return m ? Math.ceil(Number(m[1]) * 1000) : null;
}
