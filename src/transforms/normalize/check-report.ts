import type { FormatCheck } from "./index.js";

/** Human-readable report of one record's detection (`triage formats check`), for people writing a mapping. */
export function renderCheck(line: number, check: FormatCheck): string {
  const out: string[] = [];
  const r = check.result;
  if (check.format === null && !r.ok && check.declined.length === 0) {
    out.push(`record ${line}: not decoded: ${r.code}: ${r.message}`);
    return out.join("\n");
  }
  out.push(`record ${line}: ${check.format ? `format ${check.format}` : "no format matched"}`);
  if (r.ok) {
    const a = r.value;
    out.push(`  → alert ${a.alert_id}`);
    for (const key of ["alert_name", "severity", "source_ip", "destination_ip", "user", "host", "timestamp", "description"] as const) {
      const v = a[key];
      out.push(`    ${key.padEnd(15)}${v === null ? "—" : JSON.stringify(v).slice(0, 160)}`);
    }
    const extra = Object.entries(a.fields);
    if (extra.length > 0)
      out.push(
        `    fields         ${extra
          .map(([k, v]) => `${k}=${JSON.stringify(v)?.slice(0, 60)}`)
          .join(", ")
          .slice(0, 1200)}`,
      );
  } else {
    out.push(`  → ${r.code}: ${r.message}`);
  }
  if (check.declined.length > 0) {
    out.push(`  not matched:`);
    for (const d of check.declined) out.push(`    ${d.format.padEnd(20)}${d.why.slice(0, 300)}`);
  }
  return out.join("\n");
}
