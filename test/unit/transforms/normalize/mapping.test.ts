// Formats as data: a user's mapping for a vendor we do not ship is loaded from TRIAGE_FORMATS_DIR, merged with
// the built-ins in the stated order and triages that vendor's records; broken mappings are refused naming the
// file and the key; the language's paths, conditions, severity and time rules do what the README says.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Alert } from "../../../../src/core/alert.js";
import { loadConfig } from "../../../../src/config/load.js";
import { checkRecord, createNormalizer, defaultFormats, formatsOrThrow, loadFormats } from "../../../../src/transforms/normalize/index.js";
import { compilePath } from "../../../../src/transforms/normalize/mapping/paths.js";
import { parseTime, splitHostPort } from "../../../../src/transforms/normalize/mapping/values.js";

const limits = { maxRecordBytes: 1 << 20, maxJsonDepth: 32 };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function formatsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "triage-formats-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

// An invented vendor: "Acme Sentry" posts {kind: "acme.detection", det: {...}, net: {...}, who, box, at}.
const ACME = `
name: acme-sentry
description: Acme Sentry EDR detections (invented for this test).
order: 450
detect:
  all:
    - { path: kind, starts_with: acme. }
    - { path: det, is: object }
reject:
  - when: { not: { path: kind, equals: acme.detection } }
    code: not_an_alert
    message: "Acme {kind} record is not a detection"
alert:
  name: [det.title, det.rule]
  id: det.uuid
  severity:
    from:
      - path: det.level
        table: { sev0: critical, sev1: high, sev2: medium, sev3: low }
      - path: det.score
        bands:
          - { min: 80, max: 100, severity: critical }
          - { min: 0, max: 100, severity: low }
  source_ip: { path: "net.peers[role=attacker].addr", ip: true, port_to: attacker_port }
  destination_ip: net.local
  user: [who.upn, who.sam]
  host: box
  time: at
  description: det.summary
fields:
  tactics: { path: "det.mitre[].tactic", type: list }
  score: { path: det.score, type: number }
  sensor: { path: $.meta.sensor, type: text }
`;
const acmeRecords = [
  {
    kind: "acme.detection",
    at: 1763629200,
    box: "ws-17",
    who: { sam: "CORP\\kim" },
    net: {
      local: "10.0.0.17",
      peers: [
        { role: "victim", addr: "10.0.0.17" },
        { role: "attacker", addr: "203.0.113.9:4444" },
      ],
    },
    det: {
      uuid: "acme-1",
      title: "Reverse shell",
      level: "SEV1",
      score: 91,
      summary: "bash -i to a remote port",
      mitre: [{ tactic: "TA0002" }, { tactic: "TA0011" }],
    },
    meta: { sensor: "s-9" },
  },
  { kind: "acme.detection", at: "2025-11-20T09:05:00", box: "ws-18", det: { rule: "Credential dump", score: 85 } },
  { kind: "acme.heartbeat", det: {}, box: "ws-18" },
];

describe("a user mapping in TRIAGE_FORMATS_DIR", () => {
  const dir = formatsDir({ "acme-sentry.yaml": ACME, "notes.txt": "not a mapping" });
  const loaded = loadFormats(dir);
  if (!loaded.ok) throw new Error(loaded.message);
  const normalizer = createNormalizer(limits, loaded.value);
  const norm = (rec: unknown) => normalizer.normalize(Buffer.from(JSON.stringify(rec)));
  const must = (rec: unknown): Alert => {
    const r = norm(rec);
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    return r.value;
  };

  it("is read through the config option and merged with the built-ins in order", () => {
    const config = loadConfig({ TRIAGE_FORMATS_DIR: dir });
    const names = formatsOrThrow(config.TRIAGE_FORMATS_DIR).map((f) => f.name);
    expect(names).toContain("acme-sentry");
    expect(names.filter((n) => n !== "acme-sentry")).toEqual(defaultFormats.map((f) => f.name));
    // order 450: after suricata (400), before the vendors at 500 and splunk (900).
    expect(names.indexOf("acme-sentry")).toBe(names.indexOf("suricata") + 1);
  });

  it("triages the vendor's records", () => {
    expect(must(acmeRecords[0])).toMatchObject({
      format: "acme-sentry",
      alert_id: "acme-1",
      alert_name: "Reverse shell",
      severity: "high",
      source_ip: "203.0.113.9",
      destination_ip: "10.0.0.17",
      user: "CORP\\kim",
      host: "ws-17",
      timestamp: "2025-11-20T09:00:00.000Z",
      description: "bash -i to a remote port",
      fields: { tactics: ["TA0002", "TA0011"], score: 91, sensor: "s-9", attacker_port: 4444 },
    });
    // No level: the score band; a zone-less time is UTC; no id: the content hash.
    expect(must(acmeRecords[1])).toMatchObject({
      alert_name: "Credential dump",
      severity: "critical",
      timestamp: "2025-11-20T09:05:00.000Z",
      alert_id: expect.stringMatching(/^sha256:/),
    });
    expect(norm(acmeRecords[2])).toMatchObject({ ok: false, code: "not_an_alert", message: "acme-sentry: Acme acme.heartbeat record is not a detection" });
  });

  it("refuses a value its severity table does not know, naming the path", () => {
    expect(norm({ kind: "acme.detection", det: { title: "x", level: "SEV9" } })).toMatchObject({
      ok: false,
      code: "invalid_field",
      message: expect.stringMatching(/^acme-sentry: det\.level "SEV9" is not a recognised severity/),
    });
  });

  it("formats check explains which formats declined and why", () => {
    const check = checkRecord(Buffer.from(JSON.stringify(acmeRecords[0])), limits, loaded.value);
    expect(check.format).toBe("acme-sentry");
    expect(check.result.ok).toBe(true);
    expect(check.declined.map((d) => d.format)).toEqual(
      loaded.value
        .slice(
          0,
          loaded.value.findIndex((f) => f.name === "acme-sentry"),
        )
        .map((f) => f.name),
    );
    expect(check.declined.find((d) => d.format === "wazuh")?.why).toBe("rule is object, got nothing");
    const none = checkRecord(Buffer.from('{"kind":"acme.detection"}'), limits, loaded.value);
    expect(none.declined.find((d) => d.format === "acme-sentry")?.why).toBe("det is object, got nothing");
  });
});

describe("detection order and replacing built-ins", () => {
  it("on equal order a user mapping goes before the built-in; a user mapping named like a built-in replaces it", () => {
    const dir = formatsDir({
      "a.yaml": "name: zz-early\ndescription: d\norder: 100\ndetect: { has: zz }\nalert: { name: zz }\n",
      "falco.yaml": "name: falco\ndescription: my falco\norder: 20\ndetect: { has: rule }\nalert: { name: rule }\n",
    });
    const loaded = loadFormats(dir);
    if (!loaded.ok) throw new Error(loaded.message);
    const names = loaded.value.map((f) => f.name);
    expect(names.indexOf("zz-early")).toBe(names.indexOf("elastic") - 1);
    expect(names.filter((n) => n === "falco")).toHaveLength(1);
    expect(names.indexOf("falco")).toBe(names.indexOf("prototype-login") + 1);
  });
});

describe("broken mappings are refused, naming the file and the key", () => {
  const problems = (files: Record<string, string>): string => {
    const r = loadFormats(formatsDir(files));
    if (r.ok) throw new Error("expected the mappings to be refused");
    return r.message;
  };

  it.each([
    ["bad YAML", "name: x\ndetect: [unclosed\n", /bad\.yaml: line \d+ not valid YAML/],
    ["unknown key", "name: x\ndescription: d\norder: 1\ndetect: { has: a }\nalert: { name: a, colour: red }\n", /bad\.yaml: alert: Unrecognized key.*colour/],
    [
      "bad severity word",
      "name: x\ndescription: d\norder: 1\ndetect: { has: a }\nalert:\n  name: a\n  severity: { from: [{ path: s, table: { p1: urgent } }] }\n",
      /bad\.yaml: alert\.severity\.from\.0\.table\.p1: /,
    ],
    ["bad path", 'name: x\ndescription: d\norder: 1\ndetect: { has: "a[x]" }\nalert: { name: a }\n', /bad\.yaml: detect(\.has)?: .*\[x\] is not \[N\]/],
    ["missing name", "name: x\ndescription: d\norder: 1\ndetect: { has: a }\nalert: {}\n", /bad\.yaml: alert\.name: /],
    [
      "bad template",
      'name: x\ndescription: d\norder: 1\ndetect: { has: a }\nreject: [{ when: { has: b }, code: not_an_alert, message: "{c..d}" }]\nalert: { name: a }\n',
      /bad\.yaml: reject\.0\.message: .*empty key segment/,
    ],
    ["bad format name", "name: Has Spaces\ndescription: d\norder: 1\ndetect: { has: a }\nalert: { name: a }\n", /bad\.yaml: name: lower-case/],
  ])("%s", (_label, text, message) => {
    expect(problems({ "bad.yaml": text })).toMatch(message);
  });

  it("two user mappings with one name, and every problem listed together", () => {
    const ok = "description: d\norder: 1\ndetect: { has: a }\nalert: { name: a }\n";
    const msg = problems({ "one.yaml": `name: same\n${ok}`, "two.yaml": `name: same\n${ok}`, "three.yaml": "name: x\n" });
    expect(msg).toMatch(/two\.yaml: name: "same" is also the name of .*one\.yaml/);
    expect(msg).toMatch(/three\.yaml: description: /);
  });

  it("a missing directory is reported, and the service refuses to start", () => {
    expect(loadFormats("/nonexistent/formats")).toMatchObject({ ok: false, message: expect.stringMatching(/\/nonexistent\/formats: /) });
    expect(() => formatsOrThrow("/nonexistent/formats")).toThrow(/invalid format mappings/);
  });
});

describe("bugs fixed in the built-in mappings", () => {
  const normalizer = createNormalizer(limits);
  const must = (rec: unknown): Alert => {
    const r = normalizer.normalize(Buffer.from(JSON.stringify(rec)));
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    return r.value;
  };
  // A Wazuh alert from the snort/fast.log decoder: the addresses carry their ports.
  const snort = (srcip: string, dstip: string, extra: Record<string, unknown> = {}) => ({
    timestamp: "2025-11-20T10:00:00.000+0000",
    rule: { level: 6, description: "Snort: ET SCAN Potential SSH Scan", id: "20101" },
    agent: { id: "000", name: "ids-1" },
    decoder: { name: "snort" },
    data: { srcip, dstip, id: "1:2001219:20", ...extra },
    full_log: `[**] [1:2001219:20] ET SCAN Potential SSH Scan [**] {TCP} ${srcip} -> ${dstip}`,
  });

  it("wazuh: an IPv4 ip:port comes out as the IP, the port goes to fields", () => {
    expect(must(snort("198.51.100.9:40211", "10.20.1.15:22"))).toMatchObject({
      source_ip: "198.51.100.9",
      destination_ip: "10.20.1.15",
      fields: { source_port: 40211, destination_port: 22 },
    });
  });

  it("wazuh: a bracketed IPv6 [ip]:port too", () => {
    expect(must(snort("[2001:db8::9]:40211", "[2001:db8:20::15]:443"))).toMatchObject({
      source_ip: "2001:db8::9",
      destination_ip: "2001:db8:20::15",
      fields: { source_port: 40211, destination_port: 443 },
    });
  });

  it("wazuh: plain addresses are untouched, and a decoded srcport wins over the one in the address", () => {
    expect(must(snort("2001:db8::9", "10.20.1.15"))).toMatchObject({ source_ip: "2001:db8::9", destination_ip: "10.20.1.15" });
    expect(must(snort("198.51.100.9:1", "10.20.1.15", { srcport: "40211" })).fields.source_port).toBe(40211);
  });

  const finding = (extra: Record<string, unknown>) => ({
    class_uid: 2004,
    category_uid: 2,
    severity_id: 4,
    metadata: { version: "1.1.0", product: { name: "Prowler" } },
    finding_info: { title: "t", uid: `u-${JSON.stringify(extra)}` },
    ...extra,
  });

  it("ocsf: time in seconds (Prowler) and in milliseconds", () => {
    expect(must(finding({ time: 1763629200 })).timestamp).toBe("2025-11-20T09:00:00.000Z");
    expect(must(finding({ time: 1763629200123 })).timestamp).toBe("2025-11-20T09:00:00.123Z");
  });

  it("ocsf: the epoch time wins over a zone-less time_dt, which alone is read as UTC", () => {
    expect(must(finding({ time: 1763629200, time_dt: "2025-11-20T10:00:00" })).timestamp).toBe("2025-11-20T09:00:00.000Z");
    expect(must(finding({ time_dt: "2025-11-20T10:00:00.250" })).timestamp).toBe("2025-11-20T10:00:00.250Z");
  });
});

describe("the mapping language", () => {
  const at = (path: string, doc: Record<string, unknown>, root = doc) => {
    const out: unknown[] = [];
    compilePath(path).visit(doc, root, (v) => (out.push(v), false));
    return out;
  };

  it("paths: dotted (also flattened keys), [N], [], [key=value], $. for the root", () => {
    const doc = {
      a: { "b.c": 1 },
      list: [
        { k: "x", v: 1 },
        { k: "y", v: 2 },
      ],
      one: { v: 3 },
    };
    expect(at("a.b.c", doc)).toEqual([1]);
    expect(at("list[1].v", doc)).toEqual([2]);
    expect(at("list[].v", doc)).toEqual([1, 2]);
    expect(at("list[k=y].v", doc)).toEqual([2]);
    expect(at("one[0].v", doc)).toEqual([3]); // a single object reads as a list of one
    expect(at("list.v", doc)).toEqual([]); // lists are entered only with an explicit [..] step
    expect(at("$.top", { nested: 1 }, { top: "root" })).toEqual(["root"]);
  });

  it("paths: fan-out is bounded", () => {
    const list = Array.from({ length: 1000 }, (_, i) => ({ v: i }));
    expect(at("list[].v", { list })).toHaveLength(32);
  });

  it("time: epoch s / ms / µs / ns by magnitude, ISO with or without zone, +0000 offsets, long fractions", () => {
    for (const v of [
      1763629200,
      1763629200000,
      1763629200000000,
      1763629200000000000,
      "1763629200",
      "2025-11-20T09:00:00Z",
      "2025-11-20T10:00:00+01:00",
      "2025-11-20T09:00:00+0000",
      "2025-11-20 09:00:00",
    ]) {
      expect(parseTime(v)).toBe("2025-11-20T09:00:00.000Z");
    }
    expect(parseTime("2024-05-07T18:54:19.341081180Z")).toBe("2024-05-07T18:54:19.341Z");
    expect(parseTime(1320435875.879278)).toBe("2011-11-04T19:44:35.879Z");
    for (const v of ["last tuesday", "", null, {}, Number.NaN, "9".repeat(400)]) expect(parseTime(v)).toBeNull();
  });

  it("host:port splitting leaves bare IPv6 and names alone", () => {
    expect(splitHostPort("203.0.113.5:22")).toEqual({ host: "203.0.113.5", port: 22 });
    expect(splitHostPort("[2001:db8::1]:443")).toEqual({ host: "2001:db8::1", port: 443 });
    expect(splitHostPort("[2001:db8::1]")).toEqual({ host: "2001:db8::1", port: null });
    expect(splitHostPort("2001:db8::1")).toEqual({ host: "2001:db8::1", port: null });
    expect(splitHostPort("mail-01:25")).toEqual({ host: "mail-01:25", port: null });
  });
});
