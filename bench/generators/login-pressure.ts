// Generator A: 12 login-failure kinds. Hidden truth per kind: true_positive when the source's AbuseIPDB score is at
// or above the kind's reputation threshold; else needs_review when failed_logins reaches the kind's count threshold;
// else false_positive. Two kinds ignore the count (reputation only). Noise: users, hosts, destination IPs, ports,
// session ids, bytes and durations, free text.
import type { EnrichedAlert } from "../../src/core/ports/index.js";
import type { Severity } from "../../src/core/severity.js";
import {
  alertOf,
  answer,
  attackers,
  enrichment,
  freeText,
  hostName,
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
  "SSH brute force",
  "RDP failed logins",
  "VPN password spray",
  "Web portal login failures",
  "SMB authentication failures",
  "Kerberos pre-auth failures",
  "FTP login failures",
  "IMAP authentication failures",
  "MFA push fatigue",
  "Admin console login failures",
  "Database login failures",
  "API key rejected repeatedly",
];
const SEVERITY: readonly Severity[] = ["high", "medium", "medium", "low", "medium", "high", "low", "low", "high", "high", "medium", "info"];

interface KindTruth {
  reputation: number;
  /** null: the count does not matter for this kind. */
  count: number | null;
}

const TRUTH: readonly KindTruth[] = KINDS.map((_, k) => {
  const r = kindRng("login-pressure", k);
  return { reputation: int(r, 40, 85), count: k >= 10 ? null : int(r, 4, 30) };
});

export const loginPressure: Generator = {
  name: "A login-pressure",
  truthSummary: "abuse score >= R(kind) → TP; else failed_logins >= T(kind) → needs_review; else FP (2 kinds: reputation only)",
  generate(count, seed) {
    const r = rng(seed);
    const pool = attackers(r, 300, KINDS.length);
    const next = zipf(r, pool.length);
    const out: EnrichedAlert[] = [];
    for (let i = 0; i < count; i++) {
      const a = pool[next()]!;
      const kind = r() < 0.7 ? a.habit : int(r, 0, KINDS.length - 1);
      const failed = Math.max(1, Math.round(a.base * (0.5 + r())));
      const host = hostName(r, pick(r, ["dc", "server", "workstation", "other"] as HostRole[]));
      const dst = `192.168.${int(r, 0, 40)}.${int(r, 1, 254)}`;
      out.push({
        alert: alertOf({
          alert_id: `A-${seed}-${i}`,
          alert_name: KINDS[kind]!,
          severity: SEVERITY[kind]!,
          source_ip: a.ip,
          destination_ip: dst,
          user: userName(r, 0.15),
          host,
          description: freeText(r, KINDS[kind]!, a.ip, host, failed),
          fields: {
            failed_logins: failed,
            dst_port: pick(r, [22, 3389, 443, 445, 21, 993, 1433, 8443]),
            session_id: `s${Math.floor(r() * 1e9).toString(36)}`,
            bytes_in: logUniform(r, 200, 5_000_000),
            duration_ms: int(r, 5, 120_000),
            agent_version: `7.${int(r, 0, 9)}.${int(r, 0, 20)}`,
          },
        }),
        enrichment: enrichment(a),
      });
    }
    return out;
  },
  decide(alert) {
    const p = readPrompt(alert);
    const kind = KINDS.indexOf(p.name);
    const t = TRUTH[kind];
    if (!t) return answer("needs_review", "Unknown alert kind.");
    if (p.abuse >= t.reputation) return answer("true_positive", `AbuseIPDB score ${p.abuse} marks the source as hostile.`);
    const failed = Number(p.fields.failed_logins ?? 0);
    if (t.count !== null && failed >= t.count) return answer("needs_review", `${failed} failed logins from a source of modest reputation.`);
    return answer("false_positive", `Few failures (${failed}) from a source with low reputation (${p.abuse}).`);
  },
};
