// Adversarial review of issue 13 item 3 ("what the model sees, the key covers"): two alerts whose prompt lines
// differ must never share an exact key, nor a pattern key when they differ in content the pattern keeps; and what the
// model view leaves out for room is said in the line and covered by the keys.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyDeriver } from "../../../../src/core/cache-keys.js";
import { ModelViewer, VIEW_LIMITS } from "../../../../src/core/model-view.js";
import type { EnrichedAlert } from "../../../../src/core/ports/index.js";
import { keyOptionsFrom } from "../../../../src/transforms/classify/cache/index.js";
import { renderAlert } from "../../../../src/transforms/classify/prompt.js";
import { cacheConfig, item } from "./cache/support.js";

const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));
const viewer = new ModelViewer({ volatileFields: new RegExp(cacheConfig().AI_CACHE_VOLATILE_FIELDS, "i") });
const line = (e: EnrichedAlert) => renderAlert(viewer.view(e), 100_000);
const nest = (depth: number, leaf: unknown): unknown => (depth === 0 ? leaf : [nest(depth - 1, leaf)]);

describe("adversarial: exact and pattern keys cover everything the prompt line shows", () => {
  it("content nested deeper than 12 levels changes both keys (the model reads it)", () => {
    const benign = item({ fields: { ctx: nest(14, "nightly backup") } });
    const attack = item({ fields: { ctx: nest(14, "mimikatz sekurlsa") } });
    expect(line(benign)).not.toBe(line(attack));
    expect(keys.exact(benign)).not.toBe(keys.exact(attack));
    expect(keys.pattern(benign)).not.toBe(keys.pattern(attack));
  });

  it("array elements after the 64th change the pattern key (the model reads them)", () => {
    const pad = Array.from({ length: 64 }, () => 0);
    const benign = item({ fields: { list: [...pad, "backup"] } });
    const attack = item({ fields: { list: [...pad, "mimikatz"] } });
    expect(line(benign)).not.toBe(line(attack));
    expect(keys.pattern(benign)).not.toBe(keys.pattern(attack));
  });

  it("a nested null the model sees is not the same content as no value", () => {
    const a = item({ fields: { auth: { mfa: null, method: "password" } } });
    const b = item({ fields: { auth: { method: "password" } } });
    expect(line(a)).not.toBe(line(b));
    expect(keys.exact(a)).not.toBe(keys.exact(b));
  });

  it("same exact key ⇒ same prompt line, for any nested field values (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 16 }), { minLength: 2, maxLength: 6 }), (values) => {
        const items = values.map((v) => item({ fields: { ctx: v } }));
        const byKey = new Map<string, string>();
        for (const e of items) {
          const k = keys.exact(e);
          const l = line(e);
          if (byKey.has(k)) expect(byKey.get(k)).toBe(l);
          else byKey.set(k, l);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("adversarial: fields the view leaves out for room", () => {
  // An attacker who names fields (HTTP headers, JSON log keys) pads an alert with 24 names that sort first: the real
  // evidence fell out of the view silently, and the benign twin (same padding) shared its exact key.
  const pad = Object.fromEntries(Array.from({ length: VIEW_LIMITS.fields }, (_, i) => [`a${String(i).padStart(2, "0")}`, "x"]));
  const benign = item({ fields: { ...pad, process: "backup.exe" } });
  const attack = item({ fields: { ...pad, process: "mimikatz.exe" } });

  it("the prompt line says how many fields were left out", () => {
    expect(line(attack)).toContain('"fields_omitted":1');
  });

  it("two alerts that differ only in left-out fields do not share an exact or a pattern key", () => {
    expect(keys.exact(benign)).not.toBe(keys.exact(attack));
    expect(keys.pattern(benign)).not.toBe(keys.pattern(attack));
  });

  it("keys of 64+ characters that share a prefix no longer overwrite each other silently", () => {
    const prefix = "k".repeat(VIEW_LIMITS.keyChars + 5);
    const a = item({ fields: { [`${prefix}_a`]: "mimikatz.exe", [`${prefix}_b`]: "x" } });
    const b = item({ fields: { [`${prefix}_a`]: "backup.exe", [`${prefix}_b`]: "x" } });
    expect(line(a)).not.toBe(line(b));
    expect(keys.exact(a)).not.toBe(keys.exact(b));
  });
});
