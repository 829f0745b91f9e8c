/**
 * A Keyv store on Node's built-in `node:sqlite` (no native addon to compile). It implements the part of Keyv's
 * store contract our caches use: get/getMany/has/hasMany, set/setMany, delete/deleteMany, clear (of its namespace),
 * disconnect. Expiry is a column (indexed, purged as writes go by) besides the `expires` Keyv keeps in the value.
 */
import { EventEmitter } from "node:events";
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** One SQLite file, shared by the stores (one per namespace) of a process. */
export interface SqliteDatabaseOptions {
  /** File path, or ":memory:". */
  path: string;
  /** Table holding every namespace's entries. */
  table?: string;
  /**
   * How long SQLite itself waits for another connection's lock per attempt. Short on purpose: node:sqlite is
   * synchronous, so this wait blocks the event loop; longer waits happen in `retryBusy`, between attempts.
   */
  busyTimeoutMs?: number;
  /** Attempts of a statement that keeps meeting SQLITE_BUSY (waits 50 ms, 100 ms, … between them). */
  busyAttempts?: number;
  /** Least time between two purges of expired rows. */
  purgeIntervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/** True when another connection or process held the lock. */
export function isBusy(err: unknown): boolean {
  const e = err as { errcode?: number; message?: string };
  const primary = typeof e.errcode === "number" ? e.errcode & 0xff : undefined;
  return primary === SQLITE_BUSY || primary === SQLITE_LOCKED || /SQLITE_BUSY|database is locked|database table is locked/.test(e.message ?? "");
}

/** Run `fn`, retrying with growing waits while the file is locked by another connection or process. */
export async function retryBusy<T>(fn: () => T, attempts: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return fn();
    } catch (err) {
      if (i >= attempts || !isBusy(err)) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The connection and prepared statements; opened once per process and file. */
export class SqliteDatabase {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly attempts: number;
  private readonly purgeIntervalMs: number;
  readonly now: () => number;
  private lastPurge = 0;
  private users = 0;
  private closed = false;
  private stmts!: {
    get: StatementSync;
    getMany: StatementSync;
    upsert: StatementSync;
    del: StatementSync;
    delMany: StatementSync;
    clearPrefix: StatementSync;
    purge: StatementSync;
  };

  private constructor(
    opts: SqliteDatabaseOptions,
    private readonly table: string,
  ) {
    this.path = opts.path;
    this.attempts = opts.busyAttempts ?? 20;
    this.purgeIntervalMs = opts.purgeIntervalMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs ?? 25 });
  }

  /**
   * Open the file: WAL (readers never wait for the writer; a commit appends instead of rewriting a journal with an
   * fsync) set once in the file, synchronous=NORMAL per connection (durable across process crashes, not power loss:
   * enough for a cache), the table and its expiry index. Every step retries while a previous process still holds the
   * file (restart overlap), which used to fail with SQLITE_BUSY.
   */
  static async open(opts: SqliteDatabaseOptions): Promise<SqliteDatabase> {
    const table = opts.table ?? "triage_cache";
    if (!TABLE_NAME.test(table)) throw new Error(`invalid SQLite table name ${JSON.stringify(table)}`);
    const d = new SqliteDatabase(opts, table);
    try {
      await d.init();
    } catch (err) {
      d.db.close();
      throw err;
    }
    return d;
  }

  private async init(): Promise<void> {
    const { db, table } = this;
    const retry = <T>(fn: () => T) => retryBusy(fn, this.attempts);
    if (this.path !== ":memory:") {
      const mode = await retry(() => (db.prepare("PRAGMA journal_mode").get() as { journal_mode?: string } | undefined)?.journal_mode);
      if (mode !== "wal") await retry(() => db.exec("PRAGMA journal_mode=WAL"));
    }
    db.exec("PRAGMA synchronous=NORMAL");
    await retry(() => db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT, expires INTEGER)`));
    // Files written by @keyv/sqlite have (key, value) only: add the column, keep the entries.
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes("expires")) await retry(() => db.exec(`ALTER TABLE ${table} ADD COLUMN expires INTEGER`));
    await retry(() => db.exec(`CREATE INDEX IF NOT EXISTS ${table}_expires ON ${table} (expires) WHERE expires IS NOT NULL`));
    this.stmts = {
      get: db.prepare(`SELECT value FROM ${table} WHERE key = ? AND (expires IS NULL OR expires > ?)`),
      getMany: db.prepare(`SELECT key, value FROM ${table} WHERE key IN (SELECT value FROM json_each(?)) AND (expires IS NULL OR expires > ?)`),
      upsert: db.prepare(
        `INSERT INTO ${table} (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
      ),
      del: db.prepare(`DELETE FROM ${table} WHERE key = ?`),
      delMany: db.prepare(`DELETE FROM ${table} WHERE key IN (SELECT value FROM json_each(?))`),
      clearPrefix: db.prepare(`DELETE FROM ${table} WHERE substr(key, 1, ?) = ?`),
      purge: db.prepare(`DELETE FROM ${table} WHERE expires IS NOT NULL AND expires <= ?`),
    };
  }

  /** A Keyv store on this database (Keyv sets its namespace). */
  store(): SqliteKeyvStore {
    this.users++;
    return new SqliteKeyvStore(this);
  }

  retry<T>(fn: (s: SqliteDatabase["stmts"]) => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`SQLite cache ${this.path} is closed`));
    return retryBusy(() => fn(this.stmts), this.attempts);
  }

  /** Several writes as one transaction (one commit, one lock), retried whole while the file is locked. */
  transaction<T>(fn: (s: SqliteDatabase["stmts"]) => T): Promise<T> {
    return this.retry((s) => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const out = fn(s);
        this.db.exec("COMMIT");
        return out;
      } catch (err) {
        if (this.db.isTransaction) this.db.exec("ROLLBACK");
        throw err;
      }
    });
  }

  /** Drop expired rows at most once per purge interval, so the file does not grow with dead entries. */
  async maybePurge(): Promise<void> {
    const now = this.now();
    if (now - this.lastPurge < this.purgeIntervalMs) return;
    this.lastPurge = now;
    await this.retry((s) => s.purge.run(now));
  }

  /** Called by each store's disconnect; the connection closes with the last one. */
  release(): void {
    if (--this.users > 0 || this.closed) return;
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

type Stored = string | undefined;

/** Keyv store adapter; one per namespace (Keyv prefixes keys with `namespace:`). */
export class SqliteKeyvStore extends EventEmitter {
  readonly opts: { url: string; dialect: "sqlite" };
  namespace?: string | undefined;
  private released = false;

  constructor(private readonly db: SqliteDatabase) {
    super();
    this.opts = { url: `sqlite://${db.path}`, dialect: "sqlite" };
  }

  async get(key: string): Promise<Stored> {
    const row = await this.db.retry((s) => s.get.get(key, this.db.now()) as { value: string } | undefined);
    return row?.value;
  }

  async getMany(keys: string[]): Promise<Stored[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.retry((s) => s.getMany.all(JSON.stringify(keys), this.db.now()) as { key: string; value: string }[]);
    const byKey = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((k) => byKey.get(k));
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.getMany(keys)).map((v) => v !== undefined);
  }

  /** `ttl` in ms (undefined or 0 = no expiry). */
  async set(key: string, value: string, ttl?: number): Promise<boolean> {
    const expires = this.expiresAt(ttl);
    await this.db.retry((s) => s.upsert.run(key, value, expires));
    await this.db.maybePurge();
    return true;
  }

  /** All entries in one transaction; one boolean per entry (what our cache port checks). */
  async setMany(entries: { key: string; value: string; ttl?: number }[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    await this.db.transaction((s) => {
      for (const e of entries) s.upsert.run(e.key, e.value, this.expiresAt(e.ttl));
    });
    await this.db.maybePurge();
    return entries.map(() => true);
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.db.retry((s) => s.del.run(key));
    return Number(r.changes) > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const r = await this.db.retry((s) => s.delMany.run(JSON.stringify(keys)));
    return Number(r.changes) > 0;
  }

  /** Clear this namespace only (every entry when the store has none). */
  async clear(): Promise<void> {
    const prefix = this.namespace ? `${this.namespace}:` : "";
    await this.db.retry((s) => s.clearPrefix.run(prefix.length, prefix));
  }

  async disconnect(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.db.release();
  }

  private expiresAt(ttl: number | undefined): number | null {
    return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? this.db.now() + ttl : null;
  }
}
