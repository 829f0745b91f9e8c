import { z } from "zod";
import { SEVERITIES } from "./severity.js";

/** The normalized alert every stage after `normalize` works on. */
export const alertSchema = z.object({
  alert_id: z.string().min(1).max(512).describe("Stable id: the SIEM's id, or a content hash when the record had none"),
  alert_name: z.string().min(1).max(2048).describe("Rule/detection name"),
  severity: z.enum(SEVERITIES),
  source_ip: z.string().max(128).nullable(),
  destination_ip: z.string().max(128).nullable(),
  user: z.string().max(1024).nullable(),
  host: z.string().max(1024).nullable(),
  timestamp: z.string().nullable().describe("Event time, ISO-8601 UTC; null when absent or unparseable"),
  description: z.string().max(65536).nullable(),
  format: z.string().describe("Input format the record was recognised as (native, prototype-login, ...)"),
  fields: z.record(z.string(), z.unknown()).describe("Every other field of the input record, kept as-is"),
  raw: z.unknown().optional().describe("The original record, for formats that were reshaped"),
});

export type Alert = z.infer<typeof alertSchema>;
