// Generator C: 10 data-access kinds. Hidden truth per kind, unlike A's and B's: the hour of day (a number, two
// thresholds per kind: the kind's working day start and end) interplays with the host's role — off-hours access on a
// dc or server is true_positive, off-hours on a workstation needs_review, and on "other" hosts it depends on the kind;
// within working hours it is false_positive unless files_touched reaches the kind's threshold (needs_review). Some
// kinds ignore the host role. Strong threat intel turns a false_positive into needs_review. The user class does not
// matter here (it decides in B). Noise, other than A's and B's: cpu_pct, pid, tls_version, process image, records,
// share names, user and host names, destination IPs and free text.
import type { Classification } from "../../src/core/verdict.js";
import type { EnrichedAlert } from "../../src/core/ports/index.js";
import type { Severity } from "../../src/core/severity.js";
import {
  alertOf,
  answer,
  attackers,
  enrichment,
  freeText,
  hostName,
  hostRole,
  int,
  kindRng,
  logUniform,
  pick,
  readPrompt,
  rng,
  userName,
  zipf,
  type Generator,
  type HostRole,
} from "./common.js";

const KINDS = [
  "Bulk file read",
  "Sensitive share accessed",
  "Database export started",
  "Mailbox search executed",
  "Backup catalog browsed",
  "Source repository cloned",
  "Archive created on host",
  "Cloud bucket listed",
  "HR records queried",
  "Finance report downloaded",
];
const SEVERITY: readonly Severity[] = ["medium", "high", "high", "medium", "low", "medium", "low", "medium", "high", "medium"];
const ROLES: readonly HostRole[] = ["dc", "server", "workstation", "other"];

interface KindTruth {
  /** Working day: hour >= start and < end. */
  start: number;
  end: number;
  /** Off-hours verdict per host role (null: the role does not matter, off-hours is needs_review). */
  offHours: Record<HostRole, Classification> | null;
  /** files_touched at or above this in working hours is needs_review. */
  files: number;
}

const TRUTH: readonly KindTruth[] = KINDS.map((_, k) => {
  const r = kindRng("off-hours-access", k);
  const other: Classification = pick(r, ["true_positive", "needs_review", "false_positive"] as const);
  return {
    start: int(r, 6, 9),
    end: int(r, 17, 21),
    offHours: k % 4 === 3 ? null : { dc: "true_positive", server: "true_positive", workstation: "needs_review", other },
    files: int(r, 50, 400),
  };
});

export const offHoursAccess: Generator = {
  name: "C off-hours-access",
  truthSummary: "hour outside [start, end)(kind) × host role → TP/NR/per-kind; in hours: files_touched >= N(kind) → NR else FP; FP with strong TI → NR",
  generate(count, seed) {
    const r = rng(seed + 104_729);
    const pool = attackers(r, 300, KINDS.length);
    const next = zipf(r, pool.length);
    const out: EnrichedAlert[] = [];
    for (let i = 0; i < count; i++) {
      const a = pool[next()]!;
      const kind = r() < 0.7 ? a.habit : int(r, 0, KINDS.length - 1);
      const host = hostName(r, pick(r, ROLES));
      // Most access in the working day, a tail at night.
      const hour = r() < 0.7 ? int(r, 8, 18) : int(r, 0, 23);
      const files = Math.max(1, Math.round(a.base * 6 * (0.3 + 1.4 * r())));
      out.push({
        alert: alertOf({
          alert_id: `C-${seed}-${i}`,
          alert_name: KINDS[kind]!,
          severity: SEVERITY[kind]!,
          source_ip: a.ip,
          destination_ip: `10.${int(r, 100, 120)}.${int(r, 0, 255)}.${int(r, 1, 254)}`,
          user: userName(r, 0.2),
          host,
          description: freeText(r, KINDS[kind]!, a.ip, host, files),
          fields: {
            hour,
            files_touched: files,
            cpu_pct: int(r, 0, 100),
            pid: int(r, 300, 65_000),
            records: logUniform(r, 1, 2_000_000),
            tls_version: pick(r, ["1.2", "1.3"]),
            image: pick(r, ["robocopy.exe", "7z.exe", "python.exe", "sqlcmd.exe", "rclone.exe", "powershell.exe"]),
            share: `\\\\fs-${int(r, 1, 40)}\\${pick(r, ["finance", "hr", "eng", "legal", "public"])}`,
          },
        }),
        enrichment: enrichment(a),
      });
    }
    return out;
  },
  decide(alert) {
    const p = readPrompt(alert);
    const t = TRUTH[KINDS.indexOf(p.name)];
    if (!t) return answer("needs_review", "Unknown alert kind.");
    const hour = Number(p.fields.hour ?? 12);
    const role = hostRole(p.host) ?? "other";
    let verdict: Classification;
    if (hour < t.start || hour >= t.end) verdict = t.offHours === null ? "needs_review" : t.offHours[role];
    else verdict = Number(p.fields.files_touched ?? 0) >= t.files ? "needs_review" : "false_positive";
    if (verdict === "false_positive" && (p.abuse >= 90 || p.vtMalicious >= 5))
      return answer("needs_review", `Access at ${hour}h on a ${role} host, but the source has strong threat intel.`);
    return answer(verdict, `Access at ${hour}h on a ${role} host.`);
  },
};
