import { int, str } from "./options.js";

/** Cache backend and lifetimes (Keyv: SQLite by default, Redis to share between instances). */
export const cacheOptions = {
  CACHE_URL: str("Cache backend: sqlite://PATH (default, persists across restarts), redis://HOST:PORT (shared by instances) or memory://.", "sqlite://./data/triage.sqlite", /^(sqlite|redis|rediss|memory):\/\/.*/),
} as const;
