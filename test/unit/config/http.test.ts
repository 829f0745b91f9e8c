// HTTP_AUTH_TOKEN validation: a set token must be long enough not to be guessed and free of whitespace (such a token
// could never match `Authorization: Bearer <token>`, leaving the API silently closed). Errors never show the value.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { MIN_HTTP_AUTH_TOKEN_CHARS } from "../../../src/config/http.js";

const quiet = { onWarning: () => {} };

function refusal(token: string): string {
  try {
    loadConfig({ HTTP_AUTH_TOKEN: token }, quiet);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("config was accepted");
}

describe("HTTP_AUTH_TOKEN", () => {
  it("refuses a token shorter than 16 characters, naming the option and not the token", () => {
    expect(MIN_HTTP_AUTH_TOKEN_CHARS).toBe(16);
    const short = "SHORT-secret-15"; // 15 characters
    expect(short).toHaveLength(15);
    const message = refusal(short);
    expect(message).toMatch(/HTTP_AUTH_TOKEN.*at least 16 characters/);
    expect(message).not.toContain(short);
  });

  it("refuses a token containing whitespace, naming the option and not the token", () => {
    for (const token of ["a-long-SECRET token-value", "a-long-SECRET-token-value\n", "\ta-long-SECRET-token-value"]) {
      const message = refusal(token);
      expect(message).toMatch(/HTTP_AUTH_TOKEN.*whitespace/);
      expect(message).not.toContain("SECRET");
    }
  });

  it("accepts a 16-character token and keeps an unset or empty token as 'API off'", () => {
    expect(loadConfig({ HTTP_AUTH_TOKEN: "x".repeat(16) }, quiet).HTTP_AUTH_TOKEN).toBe("x".repeat(16));
    expect(loadConfig({}, quiet).HTTP_AUTH_TOKEN).toBeUndefined();
    expect(loadConfig({ HTTP_AUTH_TOKEN: "" }, quiet).HTTP_AUTH_TOKEN).toBeUndefined();
  });
});
