import { pino, type Logger, type LevelWithSilent } from "pino";

/** Paths redacted from every log line: keys and auth headers never reach the logs. */
export const REDACT_PATHS = [
  "GEMINI_API_KEY",
  "ABUSEIPDB_API_KEY",
  "VIRUSTOTAL_API_KEY",
  "HTTP_AUTH_TOKEN",
  "*.GEMINI_API_KEY",
  "*.ABUSEIPDB_API_KEY",
  "*.VIRUSTOTAL_API_KEY",
  "*.HTTP_AUTH_TOKEN",
  "apiKey",
  "*.apiKey",
  "key",
  "*.key",
  "headers.authorization",
  "headers.Authorization",
  'headers["x-goog-api-key"]',
  'headers["x-apikey"]',
  "headers.Key",
  "headers.key",
  "*.headers.authorization",
  "*.headers.Authorization",
  '*.headers["x-goog-api-key"]',
  '*.headers["x-apikey"]',
  "*.headers.Key",
  "*.headers.key",
  "req.headers.authorization",
  'req.headers["x-goog-api-key"]',
  'req.headers["x-apikey"]',
  "req.headers.key",
  // OpenAI-compatible backend (Bearer above; Azure `api-key`) and the pseudonymisation HMAC key.
  "OPENAI_API_KEY",
  "*.OPENAI_API_KEY",
  "PSEUDONYMIZE_SECRET",
  "*.PSEUDONYMIZE_SECRET",
  "secret",
  "*.secret",
  "*.*.secret",
  'headers["api-key"]',
  '*.headers["api-key"]',
  'req.headers["api-key"]',
];

/** The root logger: JSON lines on stderr (stdout carries verdicts in file mode). */
export function createLogger(level: LevelWithSilent, destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === "number" ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino({ level, base: { service: "triage" }, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export type { Logger };
