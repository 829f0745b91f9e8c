/** Our severity scale, most urgent first. */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Lower rank = more urgent; used for priority ordering. */
export const severityRank: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

const words: Record<string, Severity> = {
  critical: "critical",
  crit: "critical",
  fatal: "critical",
  emergency: "critical",
  emerg: "critical",
  alert: "critical",
  p1: "critical",
  sev1: "critical",
  high: "high",
  error: "high",
  err: "high",
  severe: "high",
  major: "high",
  important: "high",
  p2: "high",
  sev2: "high",
  medium: "medium",
  med: "medium",
  moderate: "medium",
  warning: "medium",
  warn: "medium",
  p3: "medium",
  sev3: "medium",
  low: "low",
  minor: "low",
  notice: "low",
  p4: "low",
  sev4: "low",
  info: "info",
  informational: "info",
  information: "info",
  debug: "info",
  none: "info",
  unknown: "info",
  p5: "info",
  sev5: "info",
};

/**
 * Map a number onto our scale. 0–10 uses CVSS v3 bands (9+ critical, 7+ high, 4+ medium, >0 low, 0 info);
 * values above 10 (up to 100) are read as a 0–100 risk score and divided by 10.
 */
export function severityFromScore(score: number): Severity | undefined {
  if (!Number.isFinite(score) || score < 0 || score > 100) return undefined;
  const s = score > 10 ? score / 10 : score;
  if (s >= 9) return "critical";
  if (s >= 7) return "high";
  if (s >= 4) return "medium";
  if (s > 0) return "low";
  return "info";
}

/** Normalize a severity given as a word or a number (or numeric string); undefined when unrecognised. */
export function normalizeSeverity(input: unknown): Severity | undefined {
  if (typeof input === "number") return severityFromScore(input);
  if (typeof input !== "string") return undefined;
  const text = input.trim().toLowerCase();
  if (text === "") return undefined;
  if (/^-?\d+(\.\d+)?$/.test(text)) return severityFromScore(Number(text));
  return words[text];
}
