import { int, str } from "./options.js";

/** Cache backend and lifetimes (Keyv: SQLite by default, Redis to share between instances). */
export const cacheOptions = {
  CACHE_URL: str(
    "Cache backend: sqlite://PATH (default, persists across restarts), redis://HOST:PORT (shared by instances) or memory://.",
    "sqlite://./data/triage.sqlite",
    /^(sqlite|redis|rediss|memory):\/\/.*/,
  ),
  CACHE_CONNECT_TIMEOUT_MS: int(
    "How long start-up waits for Redis (CACHE_URL=redis://) to connect and answer PING before it fails with an error naming CACHE_URL (password hidden).",
    10000,
    100,
    120000,
  ),
} as const;
