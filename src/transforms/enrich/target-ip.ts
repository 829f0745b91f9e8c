import type { Alert } from "../../core/alert.js";
import { classifyIp } from "../../core/ip.js";

/** Which of an alert's addresses threat intel is about, and whether it is worth a lookup. */
export type LookupTarget =
  | { lookup: true; ip: string; role: "source" | "destination" }
  | { lookup: false; ip: string | null; role: "source" | "destination" | null; reason: "private" | "invalid" | "no_ip" };

/**
 * The source IP when it is public; else a public destination (an internal host talking out); else the
 * address that was there, with why it is not looked up.
 */
export function chooseLookupTarget(alert: Pick<Alert, "source_ip" | "destination_ip">): LookupTarget {
  const source = alert.source_ip === null ? null : classifyIp(alert.source_ip);
  if (source?.kind === "public") return { lookup: true, ip: source.ip, role: "source" };
  const destination = alert.destination_ip === null ? null : classifyIp(alert.destination_ip);
  if (destination?.kind === "public") return { lookup: true, ip: destination.ip, role: "destination" };
  if (source !== null) return unusable(source, alert.source_ip!, "source");
  if (destination !== null) return unusable(destination, alert.destination_ip!, "destination");
  return { lookup: false, ip: null, role: null, reason: "no_ip" };
}

function unusable(c: ReturnType<typeof classifyIp>, text: string, role: "source" | "destination"): LookupTarget {
  return c.kind === "invalid" ? { lookup: false, ip: text, role, reason: "invalid" } : { lookup: false, ip: c.ip, role, reason: "private" };
}
