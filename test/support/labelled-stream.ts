/**
 * A labelled alert stream of our own: SOC-like scenarios, each with what a careful analyst decided, plus noise
 * (analysts who disagree with the scenario, missing and "Duplicate" labels, near-duplicate alerts, odd severities,
 * invalid lines). It is not tuned to any classifier: scenarios and rates were written down before any replay.
 * Labels use GUIDE's vocabulary (TruePositive / BenignPositive / FalsePositive) in a nested field
 * `review.IncidentGrade` (some records use the flat key "review.IncidentGrade", as exports do).
 */
import { mulberry32 } from "../fakes/http-fake.js";

export const LABEL_FIELD = "review.IncidentGrade";
export const LABEL_VALUES = ["TruePositive", "BenignPositive", "FalsePositive"] as const;
type Grade = (typeof LABEL_VALUES)[number];

export interface LabelledRecord {
  /** The line written (JSON, or an invalid line). */
  line: string;
  /** null for invalid lines. */
  alertId: string | null;
  /** The label value in the record (undefined: none). */
  label: string | undefined;
}

interface Scenario {
  name: string;
  weight: number;
  /** Grade a careful analyst gives, with the probability of each. */
  grades: Partial<Record<Grade, number>>;
  make(r: () => number, pick: <T>(xs: readonly T[]) => T): Record<string, unknown>;
}

const USERS = ["alice", "bob", "carol", "dave", "erin", "svc-backup", "svc-deploy", "admin"];
const HOSTS = ["ws-fin-01", "ws-eng-07", "srv-db-01", "srv-web-02", "dc-01", "laptop-hr-3", "build-agent-4"];
const BAD_IPS = ["45.155.205.233", "185.220.101.4", "91.240.118.172", "193.32.162.9"];
const SCANNERS = ["198.51.100.7", "198.51.100.8", "203.0.113.50"];
const INTERNAL = ["10.0.4.21", "10.0.8.3", "172.16.3.9", "192.168.1.44"];

const SCENARIOS: Scenario[] = [
  {
    name: "brute force then success",
    weight: 8,
    grades: { TruePositive: 0.85, BenignPositive: 0.15 },
    make: (r, pick) => ({
      alert_name: "Multiple failed logins followed by success",
      severity: pick(["high", "critical", 8]),
      source_ip: pick(BAD_IPS),
      user: pick(USERS),
      host: pick(HOSTS),
      failed_logins: 10 + Math.floor(r() * 40),
      success: true,
      description: "Successful SSH login after repeated failures",
    }),
  },
  {
    name: "failed logins only",
    weight: 14,
    grades: { FalsePositive: 0.55, BenignPositive: 0.35, TruePositive: 0.1 },
    make: (r, pick) => ({
      alert_name: "Brute force login attempts",
      severity: pick(["medium", "low", 5]),
      source_ip: pick([...SCANNERS, ...INTERNAL]),
      user: pick(USERS),
      host: pick(HOSTS),
      failed_logins: 3 + Math.floor(r() * 15),
      success: false,
      description: "Several failed logins within 5 minutes",
    }),
  },
  {
    name: "known-bad IP beacon",
    weight: 9,
    grades: { TruePositive: 0.9, FalsePositive: 0.1 },
    make: (r, pick) => ({
      alert_name: "Outbound beacon to known C2",
      severity: pick(["high", "critical"]),
      source_ip: pick(INTERNAL),
      destination_ip: pick(BAD_IPS),
      host: pick(HOSTS),
      threat_intel: { abuse_confidence_score: 70 + Math.floor(r() * 30), malicious: 3 + Math.floor(r() * 12) },
      description: "Periodic HTTPS connections every 60s",
    }),
  },
  {
    name: "scheduled backup",
    weight: 16,
    grades: { BenignPositive: 0.6, FalsePositive: 0.38, TruePositive: 0.02 },
    make: (r, pick) => ({
      alert_name: pick(["Scheduled backup transferred large volume", "Nightly backup job unusual volume"]),
      severity: pick(["low", "info", 2]),
      source_ip: pick(INTERNAL),
      user: "svc-backup",
      host: pick(HOSTS),
      bytes_out: Math.floor(r() * 5e9),
      description: "Backup job to the storage cluster",
    }),
  },
  {
    name: "port scan from scanner",
    weight: 12,
    grades: { FalsePositive: 0.5, BenignPositive: 0.45, TruePositive: 0.05 },
    make: (r, pick) => ({
      alert_name: "Port scan detected",
      severity: pick(["low", "medium"]),
      source_ip: pick(SCANNERS),
      destination_ip: pick(INTERNAL),
      ports_scanned: 100 + Math.floor(r() * 900),
      description: "Horizontal scan of the DMZ",
    }),
  },
  {
    name: "encoded powershell",
    weight: 8,
    grades: { TruePositive: 0.55, BenignPositive: 0.35, FalsePositive: 0.1 },
    make: (r, pick) => ({
      alert_name: "Suspicious encoded PowerShell",
      severity: pick(["high", "medium"]),
      user: pick(USERS),
      host: pick(HOSTS),
      process: { command_line: `powershell -enc ${Math.floor(r() * 1e9).toString(36)}` },
      description: "EncodedCommand launched by an Office process",
    }),
  },
  {
    name: "impossible travel",
    weight: 10,
    grades: { TruePositive: 0.3, BenignPositive: 0.5, FalsePositive: 0.2 },
    make: (r, pick) => ({
      alert_name: "Impossible travel",
      severity: "medium",
      user: pick(USERS),
      source_ip: pick([...BAD_IPS, ...SCANNERS]),
      description: `Login from two countries ${1 + Math.floor(r() * 5)} hours apart`,
    }),
  },
  {
    name: "ransomware behaviour",
    weight: 4,
    grades: { TruePositive: 0.95, FalsePositive: 0.05 },
    make: (r, pick) => ({
      alert_name: "Ransomware file encryption behaviour",
      severity: "critical",
      host: pick(HOSTS),
      user: pick(USERS),
      files_renamed: 200 + Math.floor(r() * 2000),
      description: "Mass rename to .locked extension",
    }),
  },
  {
    name: "health check noise",
    weight: 19,
    grades: { FalsePositive: 0.8, BenignPositive: 0.2 },
    make: (r, pick) => ({
      alert_name: pick(["Load balancer health check flood", "Heartbeat from monitoring agent"]),
      severity: pick(["info", "low", 1]),
      source_ip: pick(INTERNAL),
      host: pick(HOSTS),
      description: `Agent heartbeat #${Math.floor(r() * 1000)}`,
    }),
  },
];

export interface StreamOptions {
  alerts: number;
  seed?: number;
  /** Share of labels that disagree with the scenario's draw (another analyst, a mistake). Default 0.08. */
  labelNoise?: number;
  /** Share without a label. Default 0.03. */
  missing?: number;
  /** Share labelled "Duplicate" (ignored). Default 0.02. */
  duplicates?: number;
  /** Share of alerts that repeat an earlier alert's content under a new id. Default 0.15. */
  repeats?: number;
  /** Invalid lines added (dead letters). Default 2. */
  invalidLines?: number;
}

/** Generate the stream: lines (to write as NDJSON) and, for each, its alert id and label. */
export function labelledStream(opts: StreamOptions): LabelledRecord[] {
  const r = mulberry32(opts.seed ?? 20261201);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const total = SCENARIOS.reduce((n, s) => n + s.weight, 0);
  const scenario = () => {
    let x = r() * total;
    for (const s of SCENARIOS) {
      x -= s.weight;
      if (x < 0) return s;
    }
    return SCENARIOS[SCENARIOS.length - 1]!;
  };
  const grade = (s: Scenario): Grade => {
    let x = r();
    for (const [g, p] of Object.entries(s.grades) as [Grade, number][]) {
      x -= p;
      if (x < 0) return g;
    }
    return Object.keys(s.grades)[0] as Grade;
  };
  const out: LabelledRecord[] = [];
  const invalidLines = opts.invalidLines ?? 2;
  let invalidWritten = 0;
  const earlier: { body: Record<string, unknown>; grade: Grade }[] = [];
  for (let i = 0; i < opts.alerts; i++) {
    let body: Record<string, unknown>;
    let g: Grade;
    if (earlier.length > 0 && r() < (opts.repeats ?? 0.15)) {
      const prev = pick(earlier);
      body = structuredClone(prev.body);
      g = prev.grade;
    } else {
      const s = scenario();
      body = s.make(r, pick);
      g = grade(s);
      if (earlier.length < 500) earlier.push({ body: structuredClone(body), grade: g });
    }
    if (r() < (opts.labelNoise ?? 0.08)) g = pick(LABEL_VALUES.filter((x) => x !== g));
    const id = `hist-${String(i).padStart(6, "0")}`;
    const record: Record<string, unknown> = { alert_id: id, timestamp: new Date(Date.UTC(2026, 10, 1) + i * 37_000).toISOString(), ...body };
    let label: string | undefined = g;
    const roll = r();
    if (roll < (opts.missing ?? 0.03)) label = undefined;
    else if (roll < (opts.missing ?? 0.03) + (opts.duplicates ?? 0.02)) label = "Duplicate";
    if (label !== undefined) {
      // Nested as most exports write it; every tenth record uses the flat dotted key instead.
      if (i % 10 === 9) record[LABEL_FIELD] = label;
      else record.review = { IncidentGrade: label, reviewer: pick(["t1-ana", "t2-ben", "t1-chen"]) };
    }
    out.push({ line: JSON.stringify(record), alertId: id, label });
    if (invalidWritten < invalidLines && i > 0 && i % Math.max(1, Math.floor(opts.alerts / invalidLines)) === 0) {
      invalidWritten++;
      out.push({ line: `{"alert_name": "cut by a forwarder", "severity": "hi`, alertId: null, label: undefined });
    }
  }
  return out;
}
