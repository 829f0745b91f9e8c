import { z } from "zod";
import { SEVERITIES } from "../../../core/severity.js";
import { compilePath } from "./paths.js";
import { compileTemplate } from "./values.js";

/**
 * The mapping language: one YAML file per input format (config/formats/<name>.yaml, or TRIAGE_FORMATS_DIR).
 * Validated once at start; README "Input formats" documents every key. Paths are dotted (`a.b.c`, also matching
 * flattened dotted keys), with `[N]` (array index), `[]` (every element) and `[key=value]` (elements whose `key`
 * is `value`) steps; a `$.` prefix reads from the record root instead of the unwrapped document.
 */

/** Parsed here too, so a bad path is reported with the key it sits under. */
const checked = (compile: (s: string) => unknown) => (s: string, ctx: z.RefinementCtx) => {
  try {
    compile(s);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
};
const path = z.string().min(1).max(512).superRefine(checked(compilePath));
const template = z.string().min(1).max(500).superRefine(checked(compileTemplate));
const paths = z.union([path, z.array(path).min(1).max(32)]);
const scalar = z.union([z.string().max(256), z.number(), z.boolean()]);

/** A detection / rejection predicate. Exactly one form per object. */
export type ConditionSpec =
  | { has: string }
  | { has_prefix: string }
  | { path: string; equals?: unknown; in?: unknown[]; is?: "string" | "number" | "object" | "array" | "boolean"; starts_with?: string; ignore_case?: boolean }
  | { all: ConditionSpec[] }
  | { any: ConditionSpec[] }
  | { not: ConditionSpec };

export const conditionSchema: z.ZodType<ConditionSpec> = z.lazy(() =>
  z.union([
    z.strictObject({ has: path }),
    z.strictObject({ has_prefix: path }),
    z
      .strictObject({
        path,
        equals: scalar.optional(),
        in: z.array(scalar).min(1).max(64).optional(),
        is: z.enum(["string", "number", "object", "array", "boolean"]).optional(),
        starts_with: z.string().min(1).max(256).optional(),
        ignore_case: z.boolean().optional(),
      })
      .refine((c) => [c.equals, c.in, c.is, c.starts_with].filter((v) => v !== undefined).length === 1, "give exactly one of equals, in, is, starts_with"),
    z.strictObject({ all: z.array(conditionSchema).min(1).max(32) }),
    z.strictObject({ any: z.array(conditionSchema).min(1).max(32) }),
    z.strictObject({ not: conditionSchema }),
  ]),
) as z.ZodType<ConditionSpec>;

/** One way to read a field: paths tried in order (first non-empty wins), with optional value filters. */
const fieldAlternative = z.strictObject({
  path: paths,
  /** Keep only values that are IP addresses (an `ip:port` / `[v6]:port` suffix is removed first). */
  ip: z.boolean().optional(),
  /** Keep only values that are NOT IP addresses (a CIM field holding an IP or a host name). */
  not_ip: z.boolean().optional(),
  /** Remove an `:port` suffix (IPv4 or bracketed IPv6) and store the port under this `fields` key. */
  port_to: z.string().min(1).max(64).optional(),
  /** Keep only the first line of the text. */
  first_line: z.boolean().optional(),
  /** Use this alternative only when the condition holds. */
  when: conditionSchema.optional(),
});
const fieldSpec = z.union([
  paths,
  fieldAlternative,
  z
    .array(z.union([path, fieldAlternative]))
    .min(1)
    .max(16),
]);

const severityWord = z.enum(SEVERITIES);
const band = z
  .strictObject({ min: z.number().optional(), above: z.number().optional(), max: z.number().optional(), severity: severityWord })
  .refine((b) => b.min !== undefined || b.above !== undefined || b.max !== undefined, "a band needs min, above or max");
const severitySource = z
  .strictObject({
    path: paths,
    /** Value (case-insensitive text) → severity. */
    table: z.record(z.string().min(1).max(64), severityWord).optional(),
    /** Number → first band it falls in (min ≤ v, above < v, v ≤ max). */
    bands: z.array(band).min(1).max(16).optional(),
    /** Our own word table and 0–10/0–100 scores (critical, high, warning, p1, sev2, 7, 85 …). */
    words: z.boolean().optional(),
    /** Values that mean "not given" (e.g. Unknown, Other): skipped like an absent field. */
    ignore: z.array(scalar).max(16).optional(),
    /** Numbers must be integers to match a band. */
    integer: z.boolean().optional(),
    /** An unmapped value from this source is ignored instead of making the record invalid_field. */
    lenient: z.boolean().optional(),
    when: conditionSchema.optional(),
  })
  .refine((s) => s.table !== undefined || s.bands !== undefined || s.words === true, "a severity source needs table, bands or words: true");

const severitySpec = z.strictObject({
  /** Sources tried in order; the first that maps wins. */
  from: z.array(severitySource).min(1).max(8),
  /** Severity when no source gave a value. */
  default: severityWord.default("medium"),
  /** A value that is present but maps to nothing: `invalid` rejects the record (invalid_field), `default` uses the default. */
  unmapped: z.enum(["invalid", "default"]).default("invalid"),
});

const extraSpec = z.union([
  paths,
  z.strictObject({
    path: paths,
    /** auto: text/number/boolean as is, arrays of scalars as a list; text, number, list (distinct texts), raw. */
    type: z.enum(["auto", "text", "number", "list", "raw"]).default("auto"),
    max: z.number().int().min(1).max(65536).optional(),
    /** Only values that are (ip) / are not (not_ip) IP addresses. */
    ip: z.boolean().optional(),
    not_ip: z.boolean().optional(),
    when: conditionSchema.optional(),
  }),
]);

const fieldName = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** A whole mapping file. */
export const mappingSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lower-case letters, digits, - and _ (it becomes alert.format)"),
  description: z.string().min(1).max(2000),
  /** Detection order: lower is tried first. Ties: user mappings before built-ins, then by name. */
  order: z.number().int().min(0).max(100000),
  /** Envelopes to look through: the first whose `when` holds and whose `path` holds an object becomes the document. */
  unwrap: z
    .array(z.strictObject({ path, when: conditionSchema.optional() }))
    .max(8)
    .optional(),
  /** True when the document is this format (evaluated on the document; `$.` reads the root). */
  detect: conditionSchema,
  /** Recognised records that are not triaged (not_an_alert) or are unusable; checked before mapping. */
  reject: z
    .array(z.strictObject({ when: conditionSchema, code: z.enum(["not_an_alert", "invalid_field", "missing_field"]), message: template }))
    .max(16)
    .optional(),
  alert: z.strictObject({
    name: fieldSpec,
    /** Message when no name is found (default: "<paths> is missing or not text"). */
    name_missing: z.string().min(1).max(500).optional(),
    id: fieldSpec.optional(),
    severity: severitySpec.optional(),
    source_ip: fieldSpec.optional(),
    destination_ip: fieldSpec.optional(),
    user: fieldSpec.optional(),
    host: fieldSpec.optional(),
    time: fieldSpec.optional(),
    description: fieldSpec.optional(),
  }),
  /** Extra fields for `fields` (what analysts and the model read beside the core fields). */
  fields: z.record(z.string().regex(fieldName), extraSpec).optional(),
  /** Copy every top-level key of the document that no core field reads into `fields` (the native format). */
  keep_rest: z.boolean().default(false),
  /** Keep the original record as `alert.raw` (default true; the native format is already flat). */
  keep_raw: z.boolean().default(true),
});

export type MappingSpec = z.infer<typeof mappingSchema>;
export type FieldSpec = z.infer<typeof fieldSpec>;
export type ExtraSpec = z.infer<typeof extraSpec>;
export type SeveritySpec = z.infer<typeof severitySpec>;
