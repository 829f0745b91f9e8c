import { z } from "zod";

/** Documentation carried beside each option so the README table is generated from the schema. */
export interface OptionDoc {
  description: string;
  default: string;
  bounds: string;
  secret?: boolean;
}

export interface Option<T extends z.ZodType> {
  schema: T;
  doc: OptionDoc;
}

const fromEnvString = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

/** Integer option with inclusive bounds; env strings are coerced. */
export function int(description: string, def: number, min: number, max: number): Option<z.ZodType<number>> {
  return {
    schema: z.preprocess(fromEnvString, z.coerce.number().int().min(min).max(max).default(def)) as z.ZodType<number>,
    doc: { description, default: String(def), bounds: `${min}–${max}` },
  };
}

/** Decimal option with inclusive bounds. */
export function num(description: string, def: number, min: number, max: number): Option<z.ZodType<number>> {
  return {
    schema: z.preprocess(fromEnvString, z.coerce.number().min(min).max(max).default(def)) as z.ZodType<number>,
    doc: { description, default: String(def), bounds: `${min}–${max}` },
  };
}

/** Non-empty string option with a default. */
export function str(description: string, def: string, pattern?: RegExp): Option<z.ZodType<string>> {
  const base = pattern ? z.string().regex(pattern, `must match ${pattern}`) : z.string().min(1);
  return {
    schema: z.preprocess(fromEnvString, base.default(def)) as z.ZodType<string>,
    doc: { description, default: def === "" ? "(empty)" : def, bounds: pattern ? `matches \`${pattern.source}\`` : "non-empty" },
  };
}

/** Optional string (unset = feature off). */
export function optionalStr(description: string, secret = false): Option<z.ZodType<string | undefined>> {
  return {
    schema: z.preprocess(fromEnvString, z.string().min(1).optional()) as z.ZodType<string | undefined>,
    doc: { description, default: "(unset)", bounds: "any", secret },
  };
}

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(description: string, values: T, def: T[number]): Option<z.ZodType<T[number]>> {
  return {
    schema: z.preprocess(fromEnvString, z.enum(values).default(def as never)) as unknown as z.ZodType<T[number]>,
    doc: { description, default: def, bounds: values.join(" \\| ") },
  };
}

/** Comma-separated list; unset = undefined. */
export function list(description: string): Option<z.ZodType<string[] | undefined>> {
  return {
    schema: z.preprocess(
      (v) =>
        typeof v === "string"
          ? v.trim() === ""
            ? undefined
            : v
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
          : v,
      z.array(z.string().min(1)).min(1).optional(),
    ) as z.ZodType<string[] | undefined>,
    doc: { description, default: "(unset)", bounds: "comma-separated host:port list" },
  };
}

/** The zod object of a group of options (env name → parsed value): the whole schema, or one group for tools/tests. */
export function groupSchema<G extends Record<string, Option<z.ZodType>>>(group: G) {
  const shape = Object.fromEntries(Object.entries(group).map(([k, o]) => [k, o.schema])) as { [K in keyof G]: G[K]["schema"] };
  return z.object(shape);
}
