import { asText, isObject, readPath } from "../fields.js";

/** Most elements one `[]` / `[key=value]` step (or an implicit fan-out over an array) looks at: bounded work per record. */
export const MAX_FAN_OUT = 32;

type Step = { kind: "key"; key: string } | { kind: "index"; index: number } | { kind: "all" } | { kind: "where"; key: string; value: string };

/** A path compiled once at load: `visit` calls `fn` on each value it reaches until `fn` returns true. */
export interface CompiledPath {
  readonly source: string;
  /** First top-level key the path reads (for keep_rest). */
  readonly head: string | null;
  readonly fromRoot: boolean;
  /** One plain key step: `get` is a single lookup (the hot path of simple mappings such as native). */
  readonly simple: boolean;
  visit(doc: Record<string, unknown>, root: Record<string, unknown>, fn: (value: unknown) => boolean): boolean;
  /** The first value the path reaches (undefined when none); for simple paths without a callback. */
  get(doc: Record<string, unknown>, root: Record<string, unknown>): unknown;
}

/** Parse a path; throws with the reason (the loader turns it into "file: key: reason"). */
export function compilePath(source: string): CompiledPath {
  const fromRoot = source.startsWith("$.");
  const body = fromRoot ? source.slice(2) : source;
  const steps: Step[] = [];
  const re = /\[([^\]]*)\]/g;
  let last = 0;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    pushKey(steps, body.slice(last, m.index), source);
    steps.push(selector(m[1]!, source));
    last = m.index + m[0].length;
  }
  pushKey(steps, body.slice(last), source);
  if (steps.length === 0 || steps[0]!.kind !== "key") throw new Error(`path "${source}" must start with a key`);
  const first = steps[0] as { key: string };
  const head = first.key.split(".")[0] ?? null;

  // Fast path: one plain key (the common case, and all of the native format) is a single lookup.
  if (steps.length === 1) {
    const key = first.key;
    const plain = !key.includes(".");
    const get = (doc: Record<string, unknown>, root: Record<string, unknown>): unknown => {
      const base = fromRoot ? root : doc;
      return plain ? (Object.hasOwn(base, key) ? base[key] : undefined) : readPath(base, key);
    };
    return {
      source,
      head,
      fromRoot,
      simple: true,
      get,
      visit(doc, root, fn) {
        const value = get(doc, root);
        return value !== undefined && fn(value);
      },
    };
  }
  const visit = (doc: Record<string, unknown>, root: Record<string, unknown>, fn: (value: unknown) => boolean) => walk(fromRoot ? root : doc, steps, 0, fn);
  return {
    source,
    head,
    fromRoot,
    simple: false,
    visit,
    get(doc, root) {
      let found: unknown;
      visit(doc, root, (v) => {
        found = v;
        return true;
      });
      return found;
    },
  };
}

function pushKey(steps: Step[], text: string, source: string): void {
  const key = text.replace(/^\./, "").replace(/\.$/, "");
  if (key === "") return;
  if (key.startsWith(".") || key.endsWith(".") || key.includes("..")) throw new Error(`path "${source}" has an empty key segment`);
  steps.push({ kind: "key", key });
}

function selector(inner: string, source: string): Step {
  const text = inner.trim();
  if (text === "" || text === "*") return { kind: "all" };
  if (/^\d+$/.test(text)) return { kind: "index", index: Number(text) };
  const eq = text.indexOf("=");
  if (eq > 0) return { kind: "where", key: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim() };
  throw new Error(`path "${source}": [${inner}] is not [N], [], [*] or [key=value]`);
}

function walk(value: unknown, steps: readonly Step[], i: number, fn: (value: unknown) => boolean): boolean {
  if (value === undefined) return false;
  if (i === steps.length) return fn(value);
  const step = steps[i]!;
  switch (step.kind) {
    case "key":
      // Lists are entered only by an explicit [..] step, so a path reads the same however deep it is.
      return isObject(value) && walk(readPath(value, step.key), steps, i + 1, fn);
    case "index":
      if (Array.isArray(value)) return walk(value[step.index], steps, i + 1, fn);
      return step.index === 0 && walk(value, steps, i + 1, fn); // a single value stands for a one-element list
    case "all":
      if (Array.isArray(value)) return each(value, (item) => walk(item, steps, i + 1, fn));
      return walk(value, steps, i + 1, fn);
    case "where": {
      const matches = (item: unknown) => isObject(item) && asText(readPath(item, step.key), 256) === step.value;
      if (Array.isArray(value)) return each(value, (item) => matches(item) && walk(item, steps, i + 1, fn));
      return matches(value) && walk(value, steps, i + 1, fn);
    }
  }
}

function each(items: readonly unknown[], fn: (item: unknown) => boolean): boolean {
  const n = Math.min(items.length, MAX_FAN_OUT);
  for (let k = 0; k < n; k++) if (fn(items[k])) return true;
  return false;
}

/** First value (not undefined/null) any of `compiled` reaches, in order. */
export function firstValue(compiled: readonly CompiledPath[], doc: Record<string, unknown>, root: Record<string, unknown>): unknown {
  for (const p of compiled) {
    if (p.simple) {
      const v = p.get(doc, root);
      if (v !== undefined && v !== null) return v;
      continue;
    }
    let found: unknown;
    const hit = p.visit(doc, root, (v) => {
      if (v === null) return false;
      found = v;
      return true;
    });
    if (hit) return found;
  }
  return undefined;
}
