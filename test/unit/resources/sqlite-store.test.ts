import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import Keyv from "keyv";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openCaches } from "../../../src/resources/cache.js";
import { SqliteDatabase, isBusy } from "../../../src/resources/sqlite-store.js";

let dir: string;
const opened: SqliteDatabase[] = [];
const open = async (file = "cache.sqlite", extra: Partial<Parameters<typeof SqliteDatabase.open>[0]> = {}) => {
  const db = await SqliteDatabase.open({ path: join(dir, file), ...extra });
  opened.push(db);
  return db;
};
const keyv = (db: SqliteDatabase, namespace: string) => new Keyv({ store: db.store(), namespace });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
});
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite Keyv store (node:sqlite)", () => {
  it("runs where the tests run: Node >= 24 from the `node` dev dependency, with node:sqlite built in", () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(24);
    expect(typeof DatabaseSync).toBe("function");
  });

  it("stores, reads, batches and deletes through Keyv", async () => {
    const kv = keyv(await open(), "ti");
    expect(await kv.set("a", { score: 97 })).toBe(true);
    expect(await kv.get("a")).toEqual({ score: 97 });
    expect(await kv.get("missing")).toBeUndefined();
    expect(
      await kv.setMany([
        { key: "b", value: 1 },
        { key: "c", value: "two" },
      ]),
    ).toEqual([true, true]);
    expect(await kv.getMany(["a", "b", "nope", "c"])).toEqual([{ score: 97 }, 1, undefined, "two"]);
    expect(await kv.has("b")).toBe(true);
    expect(await kv.delete("b")).toBe(true);
    expect(await kv.has("b")).toBe(false);
    await kv.deleteMany(["a", "c"]);
    expect(await kv.getMany(["a", "c"])).toEqual([undefined, undefined]);
  });

  it("expires entries by their TTL (expiry column) and purges them from the file", async () => {
    let now = 1_000_000;
    const db = await open("ttl.sqlite", { now: () => now, purgeIntervalMs: 0 });
    const store = db.store();
    await store.set("ti:short", "v1", 1_000);
    await store.set("ti:forever", "v2");
    expect(await store.get("ti:short")).toBe("v1");
    now += 1_000;
    expect(await store.get("ti:short")).toBeUndefined(); // expired at exactly its expiry time
    expect(await store.getMany(["ti:short", "ti:forever"])).toEqual([undefined, "v2"]);
    await store.set("ti:other", "v3", 10); // a write purges what has expired
    const raw = new DatabaseSync(join(dir, "ttl.sqlite"));
    expect(
      raw
        .prepare("SELECT key FROM triage_cache ORDER BY key")
        .all()
        .map((r) => r.key),
    ).toEqual(["ti:forever", "ti:other"]);
    raw.close();
  });

  it("keeps namespaces apart; clear() empties only its own", async () => {
    const db = await open();
    const ti = keyv(db, "ti");
    const exact = keyv(db, "ai-exact");
    await ti.set("k", "threat intel");
    await exact.set("k", "verdict");
    expect(await ti.get("k")).toBe("threat intel");
    expect(await exact.get("k")).toBe("verdict");
    await ti.clear();
    expect(await ti.get("k")).toBeUndefined();
    expect(await exact.get("k")).toBe("verdict");
  });

  it("persists across a restart, in WAL mode with synchronous=NORMAL", async () => {
    const first = await open("persist.sqlite");
    await keyv(first, "overrides").set("alert-1", { classification: "true_positive" }, 60_000);
    first.close();
    const raw = new DatabaseSync(join(dir, "persist.sqlite"));
    expect(raw.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    raw.close();
    const second = await open("persist.sqlite");
    expect(await keyv(second, "overrides").get("alert-1")).toEqual({ classification: "true_positive" });
  });

  it("opens concurrently from several connections on one file (restart overlap) and all of them write", async () => {
    const dbs = await Promise.all([open("shared.sqlite"), open("shared.sqlite"), open("shared.sqlite")]);
    await Promise.all(dbs.map((db, i) => keyv(db, "ti").setMany(Array.from({ length: 50 }, (_, j) => ({ key: `${i}-${j}`, value: j })))));
    const reader = keyv(dbs[0]!, "ti");
    expect(await reader.get("2-49")).toBe(49);
    expect((await reader.getMany(Array.from({ length: 50 }, (_, j) => `1-${j}`))).every((v, j) => v === j)).toBe(true);
  });

  it("waits out another process's write lock instead of failing with SQLITE_BUSY", async () => {
    const db = await open("busy.sqlite", { busyTimeoutMs: 1 });
    const store = db.store();
    const holder = new DatabaseSync(join(dir, "busy.sqlite"));
    holder.exec("BEGIN IMMEDIATE"); // another connection holds the write lock
    let settled = false;
    const write = store.set("ti:k", "v").then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // blocked on the lock, retrying
    holder.exec("COMMIT");
    expect(await write).toBe(true);
    expect(await store.get("ti:k")).toBe("v");
    holder.close();
  });

  it("gives up with the SQLite error once the retries are spent", async () => {
    const db = await open("stuck.sqlite", { busyTimeoutMs: 1, busyAttempts: 1 });
    const holder = new DatabaseSync(join(dir, "stuck.sqlite"));
    holder.exec("BEGIN IMMEDIATE");
    const err = await db
      .store()
      .set("ti:k", "v")
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    holder.exec("ROLLBACK");
    holder.close();
    expect(isBusy(err)).toBe(true);
  });

  it("reads files written by @keyv/sqlite (key, value only): adds the expiry column, keeps the entries", async () => {
    const path = join(dir, "old.sqlite");
    const old = new DatabaseSync(path);
    old.exec("CREATE TABLE triage_cache(key VARCHAR(255) PRIMARY KEY, value TEXT)");
    old.prepare("INSERT INTO triage_cache VALUES (?, ?)").run("ti:1.2.3.4", JSON.stringify({ value: { score: 5 }, expires: null }));
    old.close();
    const db = await open("old.sqlite");
    expect(await keyv(db, "ti").get("1.2.3.4")).toEqual({ score: 5 });
  });
});

describe("openCaches on sqlite://", () => {
  it("opens the four namespaces on one file, survives a reopen, and closes cleanly", async () => {
    const url = `sqlite://${join(dir, "nested", "triage.sqlite")}`;
    const caches = await openCaches(url);
    expect(caches.backend).toBe("sqlite");
    await caches.get("ai-exact").set("x", { v: 1 }, 60_000);
    await caches.get("ti").setMany!([{ key: "x", value: 2 }]);
    await caches.close();
    const again = await openCaches(url);
    expect(await again.get("ai-exact").get("x")).toEqual({ v: 1 });
    expect(await again.get("ti").getMany!(["x", "y"])).toEqual([2, undefined]);
    expect(await again.get("overrides").get("x")).toBeUndefined();
    await again.close();
    await expect(again.get("ti").set("late", 1)).rejects.toThrow(/cache write failed/);
  });
});
