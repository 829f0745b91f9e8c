import { z } from "zod";

/** Why a provider produced no data for an IP. */
export const skipReasonSchema = z.enum(["private", "invalid", "no_ip", "disabled", "unavailable", "budget"]);

export const abuseIpDbSchema = z.object({
  abuse_confidence_score: z.number().int().min(0).max(100),
  country: z.string().nullable(),
  usage_type: z.string().nullable(),
  isp: z.string().nullable(),
  total_reports: z.number().int().min(0),
  is_tor: z.boolean(),
  last_reported_at: z.string().nullable(),
});

export const virusTotalSchema = z.object({
  malicious: z.number().int().min(0),
  suspicious: z.number().int().min(0),
  harmless: z.number().int().min(0),
  undetected: z.number().int().min(0),
  reputation: z.number().int(),
  as_owner: z.string().nullable(),
  country: z.string().nullable(),
});

/** One provider's answer for one IP: data, or the reason there is none. */
export const providerResultSchema = <T extends z.ZodType>(data: T) =>
  z.union([
    z.object({ status: z.literal("ok"), data, cached: z.boolean() }),
    z.object({ status: z.literal("skipped"), skipped: skipReasonSchema }),
    z.object({ status: z.literal("error"), code: z.string(), message: z.string() }),
  ]);

/** Threat intel attached to a verdict (null when enrichment is off). */
export const enrichmentSchema = z.object({
  ip: z.string().nullable().describe("The IP that was looked up (source, or public destination when source is absent/private)"),
  ip_role: z.enum(["source", "destination"]).nullable(),
  abuseipdb: providerResultSchema(abuseIpDbSchema),
  virustotal: providerResultSchema(virusTotalSchema),
});

export type Enrichment = z.infer<typeof enrichmentSchema>;
export type AbuseIpDbData = z.infer<typeof abuseIpDbSchema>;
export type VirusTotalData = z.infer<typeof virusTotalSchema>;
export type SkipReason = z.infer<typeof skipReasonSchema>;

/** One provider's answer for one IP, generic over its data (the shape providerResultSchema validates). */
export type ProviderResult<T> =
  | { status: "ok"; data: T; cached: boolean }
  | { status: "skipped"; skipped: SkipReason }
  | { status: "error"; code: string; message: string };
