import { isObject } from "../fields.js";
import { compilePath, MAX_FAN_OUT } from "./paths.js";
import type { ConditionSpec } from "./schema.js";

/** A predicate compiled once: `test` for the hot path, `explain` (why it does not hold) for `triage formats check`. */
export interface Condition {
  test(doc: Record<string, unknown>, root: Record<string, unknown>): boolean;
  /** null when the condition holds, else a short reason naming the path. */
  explain(doc: Record<string, unknown>, root: Record<string, unknown>): string | null;
}

export function compileCondition(spec: ConditionSpec): Condition {
  if ("all" in spec) {
    const parts = spec.all.map(compileCondition);
    return {
      test: (d, r) => parts.every((c) => c.test(d, r)),
      explain: (d, r) => {
        for (const c of parts) {
          const why = c.explain(d, r);
          if (why !== null) return why;
        }
        return null;
      },
    };
  }
  if ("any" in spec) {
    const parts = spec.any.map(compileCondition);
    return {
      test: (d, r) => parts.some((c) => c.test(d, r)),
      explain: (d, r) => (parts.some((c) => c.test(d, r)) ? null : `none of: ${parts.map((c) => c.explain(d, r)).join("; ")}`),
    };
  }
  if ("not" in spec) {
    const inner = compileCondition(spec.not);
    return { test: (d, r) => !inner.test(d, r), explain: (d, r) => (inner.test(d, r) ? `unexpected: ${describe(spec.not)}` : null) };
  }
  if ("has" in spec) {
    const p = compilePath(spec.has);
    // Present, even as null: `"alert_name": null` is still a native record (whose name is then missing).
    const test = p.simple
      ? (d: Record<string, unknown>, r: Record<string, unknown>) => p.get(d, r) !== undefined
      : (d: Record<string, unknown>, r: Record<string, unknown>) => p.visit(d, r, present);
    return { test, explain: (d, r) => (test(d, r) ? null : `${spec.has} is absent`) };
  }
  if ("has_prefix" in spec) {
    const prefix = spec.has_prefix;
    const test = (d: Record<string, unknown>) => hasKeyPath(d, prefix, 0);
    return { test, explain: (d) => (test(d) ? null : `no key starts with ${prefix}`) };
  }
  const p = compilePath(spec.path);
  const fold = spec.ignore_case === true ? (s: string) => s.toLowerCase() : (s: string) => s;
  let match: (v: unknown) => boolean;
  let wanted: string;
  if (spec.is !== undefined) {
    const kind = spec.is;
    match = (v) => (kind === "object" ? isObject(v) : kind === "array" ? Array.isArray(v) : typeof v === kind);
    wanted = `is ${kind}`;
  } else if (spec.starts_with !== undefined) {
    const prefix = fold(spec.starts_with);
    match = (v) => anyScalar(v, (s) => typeof s === "string" && fold(s).startsWith(prefix));
    wanted = `starts with ${JSON.stringify(spec.starts_with)}`;
  } else {
    const values = spec.in ?? [spec.equals];
    const texts = new Set(values.map((v) => fold(String(v))));
    match = (v) => anyScalar(v, (s) => (typeof s === "string" || typeof s === "number" || typeof s === "boolean") && texts.has(fold(String(s))));
    wanted = spec.in !== undefined ? `in ${JSON.stringify(spec.in)}` : `equals ${JSON.stringify(spec.equals)}`;
  }
  const test = (d: Record<string, unknown>, r: Record<string, unknown>) => p.visit(d, r, match);
  return {
    test,
    explain: (d, r) => {
      if (test(d, r)) return null;
      let got: unknown;
      p.visit(d, r, (v) => {
        got = v;
        return true;
      });
      return `${spec.path} ${wanted}, got ${got === undefined ? "nothing" : JSON.stringify(got).slice(0, 60)}`;
    },
  };
}

const present = (): boolean => true;

/** A scalar, or any element of an array of scalars (multi-valued fields), satisfies `fn`. */
function anyScalar(v: unknown, fn: (s: unknown) => boolean): boolean {
  if (!Array.isArray(v)) return fn(v);
  const n = Math.min(v.length, MAX_FAN_OUT);
  for (let i = 0; i < n; i++) if (fn(v[i])) return true;
  return false;
}

/**
 * Some key path of the record starts with `prefix`, whatever mix of nesting and flattened dotted keys it uses
 * ({"kibana.alert.uuid"}, {kibana: {alert: {uuid}}}, {kibana: {"alert.uuid"}}).
 */
function hasKeyPath(node: Record<string, unknown>, prefix: string, depth: number): boolean {
  if (depth > 8) return false;
  for (const key in node) {
    if (!Object.hasOwn(node, key)) continue;
    if (key.startsWith(prefix)) return true;
    if (prefix.startsWith(`${key}.`)) {
      const child = node[key];
      if (isObject(child) && hasKeyPath(child, prefix.slice(key.length + 1), depth + 1)) return true;
    }
  }
  return false;
}

function describe(spec: ConditionSpec): string {
  return JSON.stringify(spec).slice(0, 120);
}
