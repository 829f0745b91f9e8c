// Issue #13 item 10: a lost write is an error, never a silent success.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { TriageError } from "../../../src/core/errors.js";
import type { Verdict } from "../../../src/core/verdict.js";
import { ndjsonDeadLetterSink, ndjsonVerdictSink } from "../../../src/sinks/ndjson.js";

const v = { alert_id: "a" } as unknown as Verdict;

describe("ndjson sinks", () => {
  it("publish to /dev/full rejects with ENOSPC naming the file, and keeps rejecting; close does not hang", async () => {
    const sink = ndjsonVerdictSink("/dev/full");
    const err = await sink.publish([v]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TriageError);
    expect(err).toMatchObject({ code: "output_write_failed", stage: "sink", retriable: false });
    expect((err as Error).message).toBe("cannot write verdicts to /dev/full: ENOSPC (no space left on device)");
    await expect(sink.publish([v])).rejects.toBe(err);
    await sink.close();
  });

  it("a failing stream (EPIPE) rejects the dead-letter write too", async () => {
    const broken = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error("EPIPE: broken pipe, write"), { code: "EPIPE" })) });
    broken.on("error", () => {});
    const sink = ndjsonDeadLetterSink(broken);
    await expect(sink.write([{ value: Buffer.from("x"), code: "c", message: "m", origin: {}, failedAtMs: 0 }])).rejects.toThrow(
      "cannot write dead letters to stream: EPIPE (broken pipe)",
    );
  });

  it("resolves only once the bytes are written, and close flushes", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ndjson-")), "v.ndjson");
    const sink = ndjsonVerdictSink(file);
    await sink.publish([v, v]);
    expect(readFileSync(file, "utf8")).toBe('{"alert_id":"a"}\n{"alert_id":"a"}\n');
    await sink.close();
  });
});
