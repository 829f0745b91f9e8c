import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === "object") {
    // No prototype: a `__proto__` key is kept as data (on `{}` the assignment would set the prototype and vanish).
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortDeep(v);
    }
    return out;
  }
  return value;
}

/** Hex SHA-256 of a string. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
