// No input makes a mapping throw: random records built from every path the built-in mappings read (nested,
// flattened, inside lists, with hostile values) go through every format's detect / explain / normalize, and
// random user mappings compiled by the real loader run over random records, never throwing and never
// producing an alert the schema rejects.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parse } from "yaml";
import type { AlertFormat } from "../../../../src/transforms/normalize/format.js";
import { genericFormat } from "../../../../src/transforms/normalize/generic.js";
import { createNormalizer, defaultFormats } from "../../../../src/transforms/normalize/index.js";
import { compileMapping } from "../../../../src/transforms/normalize/mapping/compile.js";
import { mappingSchema } from "../../../../src/transforms/normalize/mapping/schema.js";

const formatsDir = new URL("../../../../config/formats/", import.meta.url);

/** Every path a built-in mapping reads (values of path/has/has_prefix and of alert/fields entries). */
function mappingPaths(): string[] {
  const out = new Set<string>();
  const visit = (node: unknown, key: string): void => {
    if (typeof node === "string") {
      if (["path", "has", "has_prefix", "name", "id", "source_ip", "destination_ip", "user", "host", "time", "description"].includes(key) || key === "field")
        out.add(node);
      return;
    }
    if (Array.isArray(node)) for (const item of node) visit(item, key);
    else if (node !== null && typeof node === "object")
      for (const [k, v] of Object.entries(node)) visit(v, k === "fields" ? "field" : key === "field" && typeof v === "string" ? "field" : k);
  };
  for (const file of readdirSync(formatsDir).filter((f) => f.endsWith(".yaml"))) {
    const doc = parse(readFileSync(new URL(file, formatsDir), "utf8")) as Record<string, unknown>;
    visit(doc.detect, "detect");
    visit(doc.reject, "reject");
    visit(doc.unwrap, "unwrap");
    visit(doc.alert, "alert");
    visit(doc.fields, "fields");
  }
  return [...out].filter((p) => /^[$@A-Za-z_]/.test(p) && p.length < 200);
}
const PATHS = mappingPaths();

/** Put `v` where `path` reads it: nested or as one flattened key; `[..]` steps become one-element lists. */
function place(record: Record<string, unknown>, path: string, v: unknown, flat: boolean): void {
  const body = path.startsWith("$.") ? path.slice(2) : path;
  const pieces = body.split(/(\[[^\]]*\])/).filter((p) => p !== "" && p !== ".");
  let node: Record<string, unknown> = record;
  pieces.forEach((piece, i) => {
    const last = i === pieces.length - 1;
    if (piece.startsWith("[")) return;
    const key = piece.replace(/^\./, "").replace(/\.$/, "");
    const parts = flat ? [key] : key.split(".");
    parts.forEach((part, j) => {
      const end = last && j === parts.length - 1;
      if (end) {
        node[part] = v;
        return;
      }
      const next = pieces[i + 1];
      const selector = j === parts.length - 1 && next?.startsWith("[") ? next : undefined;
      if (selector) {
        const element: Record<string, unknown> = {};
        const where = /^\[([^=\]]+)=([^\]]*)\]$/.exec(selector);
        if (where) element[where[1]!.trim()] = where[2]!.trim();
        node[part] = [element];
        node = element;
        return;
      }
      const child = node[part];
      if (child === null || typeof child !== "object" || Array.isArray(child)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    });
  });
}

const hostile = fc.constantFrom<unknown>(
  "",
  " ",
  "alert",
  "Critical",
  "INFORMATIONAL",
  "purple",
  "unknown",
  "OUTBOUND",
  "guardduty",
  "SecurityAlert",
  "acme.",
  "security.x",
  "de_1",
  "RULE_DETECTION",
  "10.0.0.1:22",
  "[2001:db8::1]:443",
  "2001:db8::1",
  "not-an-ip",
  "1763626800",
  "2025-11-20T08:20:00",
  "1e309",
  "\u2400",
  0,
  1,
  2,
  3,
  5,
  9,
  15,
  16,
  42,
  99,
  100,
  101,
  2004,
  3002,
  -1,
  1.5,
  1e20,
  1763629200123,
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  null,
  [],
  {},
  [null],
  [{}],
  ["x", 1],
);
const value = fc.oneof(
  { weight: 4, arbitrary: hostile },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.array(hostile, { maxLength: 3 }) },
);
const record = fc.array(fc.tuple(fc.constantFrom(...PATHS), value, fc.boolean()), { minLength: 1, maxLength: 16 }).map((entries) => {
  const r: Record<string, unknown> = {};
  for (const [p, v, flat] of entries) place(r, p, v, flat);
  return r;
});

const BUG_CODES = new Set(["normalize_failed", "invalid_alert"]);
const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 64 });

function exercise(formats: readonly AlertFormat[], r: Record<string, unknown>): void {
  for (const f of formats) {
    let claimed = false;
    try {
      claimed = f.detect(r);
      f.explain?.(r);
      if (claimed) f.normalize(r);
    } catch (err) {
      throw new Error(`${f.name} threw on ${JSON.stringify(r).slice(0, 300)}: ${(err as Error).stack}`);
    }
  }
}

describe("built-in mappings over open-ended input (property)", () => {
  it("the vocabulary covers the mappings", () => {
    expect(PATHS.length).toBeGreaterThan(150);
    expect(PATHS).toEqual(
      expect.arrayContaining(["evidence[].deviceDnsName", "detection[0].ruleLabels[key=severity].value", "$.sid", "output_fields.user.name"]),
    );
  });

  it("records from every mapping's paths: no detect / explain / normalize throws; results are ok or invalid", () => {
    fc.assert(
      fc.property(record, (r) => {
        exercise([...defaultFormats, genericFormat], r);
        const res = normalizer.normalize(Buffer.from(JSON.stringify(r)));
        if (!res.ok) expect(BUG_CODES.has(res.code), `${res.code}: ${res.message}`).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---- Random user mappings, through the real schema and compiler ----

const path = fc.oneof(fc.constantFrom(...PATHS), fc.constantFrom("a", "a.b", "a[0]", "a[]", "a[k=v].b", "$.a", "list[].x", "x.y.z"));
const leaf = fc.oneof(
  path.map((p) => ({ has: p })),
  path.map((p) => ({ has_prefix: p })),
  fc
    .tuple(
      path,
      hostile.filter((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean"),
    )
    .map(([p, v]) => ({ path: p, equals: v })),
  fc.tuple(path, fc.constantFrom("string", "number", "object", "array", "boolean")).map(([p, is]) => ({ path: p, is })),
  fc.tuple(path, fc.string({ minLength: 1, maxLength: 4 })).map(([p, s]) => ({ path: p, starts_with: s, ignore_case: true })),
);
const condition = fc.letrec((tie) => ({
  cond: fc.oneof(
    { depthSize: "small" },
    leaf,
    fc.array(tie("cond"), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
    fc.array(tie("cond"), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
    tie("cond").map((not) => ({ not })),
  ),
})).cond;
const severityWord = fc.constantFrom("critical", "high", "medium", "low", "info");
const fieldSpec = fc.oneof(
  path,
  fc.array(path, { minLength: 1, maxLength: 3 }),
  fc.record({ path, ip: fc.boolean(), port_to: fc.constant("p"), first_line: fc.boolean(), when: condition }, { requiredKeys: ["path"] }),
);
const mapping = fc.record({
  name: fc.constant("random-vendor"),
  description: fc.constant("random"),
  order: fc.nat({ max: 1000 }),
  unwrap: fc.option(fc.array(fc.record({ path, when: condition }, { requiredKeys: ["path"] }), { maxLength: 2 }), { nil: undefined }),
  detect: condition,
  reject: fc.option(
    fc.array(fc.record({ when: condition, code: fc.constant("not_an_alert"), message: path.map((p) => `got {${p}} / {${p}|json}`) }), { maxLength: 2 }),
    { nil: undefined },
  ),
  alert: fc.record(
    {
      name: fieldSpec,
      id: fieldSpec,
      severity: fc.record({
        from: fc.array(
          fc.record(
            {
              path,
              table: fc.dictionary(fc.constantFrom("1", "2", "high", "x", "Unknown"), severityWord),
              bands: fc.array(fc.record({ min: fc.integer({ min: -5, max: 100 }), severity: severityWord }), { minLength: 1, maxLength: 3 }),
              integer: fc.boolean(),
              lenient: fc.boolean(),
              ignore: fc.array(
                hostile.filter((v) => typeof v === "string" || typeof v === "number"),
                { maxLength: 2 },
              ),
            },
            { requiredKeys: ["path", "bands"] },
          ),
          { minLength: 1, maxLength: 3 },
        ),
        unmapped: fc.constantFrom("invalid", "default"),
      }),
      source_ip: fieldSpec,
      user: fieldSpec,
      time: fieldSpec,
      description: fieldSpec,
    },
    { requiredKeys: ["name"] },
  ),
  fields: fc.dictionary(
    fc.constantFrom("f1", "f2", "f3"),
    fc.oneof(path, fc.record({ path, type: fc.constantFrom("auto", "text", "number", "list", "raw"), not_ip: fc.boolean() }, { requiredKeys: ["path"] })),
  ),
  keep_rest: fc.boolean(),
});

describe("user mappings over open-ended input (property)", () => {
  it("any mapping the schema accepts compiles and never throws on any record", () => {
    let accepted = 0;
    fc.assert(
      fc.property(mapping, fc.array(record, { minLength: 1, maxLength: 4 }), (spec, records) => {
        const parsed = mappingSchema.safeParse(JSON.parse(JSON.stringify(spec)));
        if (!parsed.success) return;
        accepted++;
        const format = compileMapping(parsed.data, "random.yaml");
        const n = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 64 }, [format]);
        for (const r of records) {
          exercise([format], r);
          const res = n.normalize(Buffer.from(JSON.stringify(r)));
          if (!res.ok) expect(BUG_CODES.has(res.code), `${res.code}: ${res.message}`).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
    // The generator must mostly produce valid mappings, or the property says nothing.
    expect(accepted).toBeGreaterThan(200);
  });
});
