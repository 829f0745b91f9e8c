// Generator B: 12 host-activity kinds. Hidden truth per kind: a table over the user's class (privileged or not) and
// the host's role (dc, server, workstation, other) — e.g. a privileged user on a domain controller is
// true_positive for some kinds, an ordinary user on a workstation false_positive; for four kinds a numeric field
// interplays: process_count at or above the kind's threshold is true_positive whoever the user is. Threat intel
// decides only as the system prompt says: a strong-TI source is never false_positive (needs_review instead). Noise: names, destination IPs, ports, session ids, bytes, durations, free text.
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
  isPrivileged,
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
  "Privileged group membership changed",
  "New service installed",
  "Scheduled task created",
  "Encoded PowerShell command",
  "Remote WMI execution",
  "Unusual parent process",
  "Registry run key added",
  "USB storage mounted",
  "Software installed outside change window",
  "Firewall rule modified",
  "Audit policy changed",
  "Remote desktop session opened",
];
const SEVERITY: readonly Severity[] = ["high", "medium", "low", "high", "medium", "medium", "medium", "low", "low", "medium", "high", "low"];
const ROLES: readonly HostRole[] = ["dc", "server", "workstation", "other"];
const CLASSES: readonly Classification[] = ["true_positive", "needs_review", "false_positive"];

interface KindTruth {
  /** [privileged?][role] → classification. */
  table: Record<"privileged" | "user", Record<HostRole, Classification>>;
  /** process_count at or above this is true_positive (null: not for this kind). */
  processes: number | null;
}

const TRUTH: readonly KindTruth[] = KINDS.map((_, k) => {
  const r = kindRng("identity-asset", k);
  const row = (privileged: boolean) =>
    Object.fromEntries(
      ROLES.map((role) => {
        // Plausible tables: privileged on dc/server leans TP, ordinary users on workstations lean FP; the rest varies per kind.
        const lean: Classification =
          privileged && (role === "dc" || role === "server") ? "true_positive" : !privileged && role === "workstation" ? "false_positive" : pick(r, CLASSES);
        return [role, r() < 0.8 ? lean : pick(r, CLASSES)];
      }),
    ) as Record<HostRole, Classification>;
  return { table: { privileged: row(true), user: row(false) }, processes: k % 3 === 0 ? int(r, 5, 40) : null };
});

export const identityAsset: Generator = {
  name: "B identity-asset",
  truthSummary: "table[user class][host role] per kind; 4 kinds: process_count >= N(kind) → TP; FP with strong TI → needs_review",
  generate(count, seed) {
    const r = rng(seed + 7919);
    const pool = attackers(r, 300, KINDS.length);
    const next = zipf(r, pool.length);
    const out: EnrichedAlert[] = [];
    for (let i = 0; i < count; i++) {
      const a = pool[next()]!;
      const kind = r() < 0.7 ? a.habit : int(r, 0, KINDS.length - 1);
      const host = hostName(r, pick(r, ROLES));
      const processes = Math.max(0, Math.round(a.base * (0.3 + 1.2 * r())));
      out.push({
        alert: alertOf({
          alert_id: `B-${seed}-${i}`,
          alert_name: KINDS[kind]!,
          severity: SEVERITY[kind]!,
          source_ip: a.ip,
          destination_ip: `172.16.${int(r, 0, 60)}.${int(r, 1, 254)}`,
          user: userName(r, 0.3),
          host,
          description: freeText(r, KINDS[kind]!, a.ip, host, processes),
          fields: {
            process_count: processes,
            event_code: pick(r, [4688, 4697, 4698, 4720, 7045, 4657]),
            session_id: `s${Math.floor(r() * 1e9).toString(36)}`,
            bytes_out: logUniform(r, 100, 20_000_000),
            duration_ms: int(r, 1, 90_000),
            parent: pick(r, ["explorer.exe", "services.exe", "cmd.exe", "wmiprvse.exe", "svchost.exe"]),
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
    const processes = Number(p.fields.process_count ?? 0);
    if (t.processes !== null && processes >= t.processes) return answer("true_positive", `${processes} processes spawned: far above normal.`);
    const who = isPrivileged(p.user) ? "privileged" : "user";
    const role = hostRole(p.host) ?? "other";
    const verdict = t.table[who][role];
    // Like a model following the system prompt: strong threat intel on the IP is never dismissed (the guard's thresholds).
    if (verdict === "false_positive" && (p.abuse >= 90 || p.vtMalicious >= 5))
      return answer("needs_review", `A ${who} account on a ${role} host, but the source has strong threat intel.`);
    return answer(verdict, `A ${who} account on a ${role} host.`);
  },
};
