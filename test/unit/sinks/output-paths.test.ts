import { closeSync, existsSync, linkSync, openSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkOutputs, fsErrorText } from "../../../src/sinks/output-paths.js";

describe("checkOutputs", () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), "outputs-"));
    const input = join(dir, "in.ndjson");
    writeFileSync(input, "keep me\n");
    return { dir, input };
  };

  it("refuses the input under any name, and two outputs on one file", () => {
    const { dir, input } = setup();
    symlinkSync(input, join(dir, "sym"));
    linkSync(input, join(dir, "hard"));
    for (const p of [input, join(dir, ".", "in.ndjson"), join(dir, "sym"), join(dir, "hard")]) {
      expect(checkOutputs(input, [{ option: "--out", path: p }])).toMatchObject({ kind: "refused" });
    }
    expect(
      checkOutputs(input, [
        { option: "--out", path: join(dir, "x") },
        { option: "--dlq", path: join(dir, "x") },
      ]),
    ).toEqual({ kind: "refused", message: `--out and --dlq name the same file (${join(dir, "x")}): give each output its own path` });
    expect(readFileSync(input, "utf8")).toBe("keep me\n");
  });

  it("refuses an output that is the file on standard input (`replay - --out X < X`)", () => {
    const { dir, input } = setup();
    const stdin = openSync(input, "r");
    try {
      expect(checkOutputs(null, [{ option: "--out", path: input }], { stdinFd: stdin })).toMatchObject({
        kind: "refused",
        message: expect.stringContaining("standard input"),
      });
      expect(checkOutputs(null, [{ option: "--report", path: join(dir, "sub", "..", "in.ndjson") }], { stdinFd: stdin })).toMatchObject({ kind: "refused" });
      expect(checkOutputs(null, [{ option: "--out", path: join(dir, "other") }], { stdinFd: stdin })).toBeNull();
    } finally {
      closeSync(stdin);
    }
    expect(readFileSync(input, "utf8")).toBe("keep me\n");
  });

  it("refuses a run whose standard output or error is its input (`replay X >> X` appended verdicts to X)", () => {
    const { dir, input } = setup();
    const appended = openSync(input, "a");
    const other = openSync(join(dir, "log"), "a");
    try {
      expect(checkOutputs(input, [], { streams: [{ name: "standard output", fd: appended }] })).toEqual({
        kind: "refused",
        message: `standard output is the input file ${input}: refusing to append to the input`,
      });
      expect(checkOutputs(input, [], { streams: [{ name: "standard error", fd: other }] })).toBeNull();
    } finally {
      closeSync(appended);
      closeSync(other);
    }
    expect(readFileSync(input, "utf8")).toBe("keep me\n");
  });

  it("lets two outputs share a character device: `--out /dev/null --dlq /dev/null` is not refused", () => {
    const { input } = setup();
    expect(
      checkOutputs(input, [
        { option: "--out", path: "/dev/null" },
        { option: "--dlq", path: "/dev/null" },
      ]),
    ).toBeNull();
  });

  it("probes writability without truncating or leaving files behind", () => {
    const { dir, input } = setup();
    const existing = join(dir, "old.json");
    writeFileSync(existing, "old");
    expect(
      checkOutputs(input, [
        { option: "--report", path: existing },
        { option: "--out", path: join(dir, "new.ndjson") },
      ]),
    ).toBeNull();
    expect(readFileSync(existing, "utf8")).toBe("old");
    expect(existsSync(join(dir, "new.ndjson"))).toBe(false);
    expect(checkOutputs(null, [{ option: "--out", path: join(dir, "nope", "v") }])).toEqual({
      kind: "unwritable",
      message: `cannot write --out ${join(dir, "nope", "v")}: ENOENT (no such file or directory)`,
    });
    expect(checkOutputs(null, [{ option: "--out", path: dir }])).toMatchObject({ kind: "unwritable", message: expect.stringContaining("EISDIR") });
  });

  it("fsErrorText keeps the errno and the human part", () => {
    expect(fsErrorText(Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: "EACCES" }))).toBe("EACCES (permission denied)");
    expect(fsErrorText({})).toBe("EIO");
  });
});
