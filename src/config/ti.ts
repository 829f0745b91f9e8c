import { int, optionalStr, str } from "./options.js";

const httpUrl = /^https?:\/\/[^\s/]+(\/\S*)?$/;

/** Threat-intel provider options (AbuseIPDB, VirusTotal): keys, endpoints, quotas, cache lifetimes, resilience. */
export const tiOptions = {
  ABUSEIPDB_API_KEY: optionalStr("AbuseIPDB APIv2 key. Unset: AbuseIPDB enrichment is off (one log line at start).", true),
  ABUSEIPDB_BASE_URL: str("AbuseIPDB origin; tests point it at a loopback fake.", "https://api.abuseipdb.com", httpUrl),
  ABUSEIPDB_MAX_AGE_DAYS: int("Only reports younger than this count towards totalReports/confidence (maxAgeInDays).", 90, 1, 365),
  // No per-minute limit is documented; 60/min keeps a burst from spending the free 1,000/day in seconds.
  ABUSEIPDB_RPM: int("AbuseIPDB requests per TI_RATE_WINDOW_MS window (client-side smoothing of the daily budget).", 60, 1, 100000),
  ABUSEIPDB_RPD: int("AbuseIPDB check requests per UTC day (free plan: 1,000). Spent → results `skipped: budget`.", 1000, 1, 10000000),
  VIRUSTOTAL_API_KEY: optionalStr("VirusTotal API v3 key. Unset: VirusTotal enrichment is off (one log line at start).", true),
  VIRUSTOTAL_BASE_URL: str("VirusTotal origin; tests point it at a loopback fake.", "https://www.virustotal.com", httpUrl),
  VIRUSTOTAL_RPM: int("VirusTotal requests per TI_RATE_WINDOW_MS window (public API: 4/min).", 4, 1, 100000),
  VIRUSTOTAL_RPD: int("VirusTotal requests per UTC day (public API: 500). Spent → results `skipped: budget`.", 500, 1, 10000000),
  TI_TIMEOUT_MS: int("Timeout of one TI HTTP request, body included.", 5000, 100, 60000),
  TI_MAX_RETRIES: int("Retries of one TI lookup after a 5xx, timeout or network error (each retry takes quota).", 2, 0, 5),
  TI_CACHE_TTL_SECONDS: int("How long a provider's answer for an IP is reused (cache namespace `ti`, key provider:ip).", 86400, 1, 2592000),
  TI_NEGATIVE_CACHE_TTL_SECONDS: int("How long a provider error about the IP itself (404, 422) is reused; shorter than TI_CACHE_TTL_SECONDS.", 3600, 1, 604800),
  TI_BREAKER_FAILURES: int("Consecutive failed requests (5xx, timeouts, auth) that open a provider's circuit breaker.", 5, 1, 1000),
  TI_BREAKER_COOLDOWN_MS: int("How long an open breaker rejects lookups before letting one probe through.", 30000, 100, 3600000),
  TI_RATE_WINDOW_MS: int("Window of the *_RPM limits; 60000 in production, shorter in tests.", 60000, 100, 3600000),
  // Trade-off: the enrich stage holds its micro-batch while it waits, so a long wait stalls the pipeline
  // (VirusTotal's 4/min turns a burst of 40 new IPs into a 10-minute queue). 10 s lets a request wait for
  // the next few slots of a short window, then marks that provider `skipped: unavailable` for the alert;
  // the IP is not cached, so a later alert with it is looked up again once quota is back.
  TI_MAX_WAIT_MS: int("Longest an alert's lookup waits for provider quota before that provider is marked `skipped: unavailable`.", 10000, 0, 600000),
} as const;
