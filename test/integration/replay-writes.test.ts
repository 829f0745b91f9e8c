// Issue #13 item 10: replay never loses records silently and never overwrites its own input.
import { spawn } from "node:child_process";
import { closeSync, existsSync, linkSync, mkdtempSync, mkdirSync, chmodSync, openSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { cliEnv, cliLines, fileSha256, repoRoot, runCli } from "../support/cli.js";

const alerts = Array.from({ length: 40 }, (_, i) =>
  JSON.stringify({
    alert_id: `w-${i}`,
    alert_name: i % 2 ? "Brute force login attempts" : "Scheduled backup",
    severity: i % 3 ? "low" : "high",
    source_ip: `203.0.113.${i}`,
    host: "h1",
  }),
);
const input = `${alerts.join("\n")}\n{not json\n`;

let dir: string;
let inFile: string;
let inSha: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "replay-writes-"));
  inFile = join(dir, "history.ndjson");
  writeFileSync(inFile, input);
  inSha = fileSha256(inFile);
});

/** No stack trace: no "    at fn (file:line)" frames, no Node's "Node.js v24" crash footer. */
function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .+[:(]/m);
  expect(stderr).not.toMatch(/^Node\.js v\d+/m);
}

/** Exactly one line of ours, naming the path and the errno. */
function expectOneClearLine(stderr: string, path: string, errno: RegExp): string {
  const lines = cliLines(stderr);
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toContain(path);
  expect(lines[0]).toMatch(errno);
  return lines[0]!;
}

describe("replay: a lost write is an error, never a silent exit 0", () => {
  it("--out /dev/full (ENOSPC) exits non-zero with one line naming the path and errno", async () => {
    const run = await runCli(["replay", inFile, "--out", "/dev/full", "--dlq", join(dir, "dlq.ndjson")]);
    expect(run.code).toBe(1);
    expectOneClearLine(run.stderr, "/dev/full", /ENOSPC/);
    expectNoStackTrace(run.stderr);
    expect(fileSha256(inFile)).toBe(inSha);
  });

  it("--dlq /dev/full (ENOSPC on the dead letters) exits non-zero too", async () => {
    const run = await runCli(["replay", inFile, "--out", join(dir, "verdicts.ndjson"), "--dlq", "/dev/full"]);
    expect(run.code).toBe(1);
    expectOneClearLine(run.stderr, "/dev/full", /ENOSPC/);
    expectNoStackTrace(run.stderr);
    expect(fileSha256(inFile)).toBe(inSha);
  });

  it("an --out in a missing directory (ENOENT) is refused before anything is processed", async () => {
    const out = join(dir, "no-such-dir", "verdicts.ndjson");
    const run = await runCli(["replay", inFile, "--out", out]);
    expect(run.code).toBe(1);
    expectOneClearLine(run.stderr, out, /ENOENT/);
    expectNoStackTrace(run.stderr);
    expect(run.stdout).toBe(""); // no verdicts went elsewhere instead
  });

  it("an unwritable --out (EACCES) is refused with one line", async () => {
    // Root ignores directory modes; a sysfs attribute without a write handler refuses even root.
    let out: string;
    if (process.getuid?.() === 0) out = "/sys/kernel/notes";
    else {
      const ro = join(dir, "read-only");
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      out = join(ro, "verdicts.ndjson");
    }
    const run = await runCli(["replay", inFile, "--out", out]);
    expect(run.code).toBe(1);
    expectOneClearLine(run.stderr, out, /EACCES|EROFS|EPERM/);
    expectNoStackTrace(run.stderr);
  });

  it("an unwritable --report fails before the run, not after it", async () => {
    const report = join(dir, "missing", "report.json");
    const run = await runCli(["replay", inFile, "--out", join(dir, "v.ndjson"), "--report", report]);
    expect(run.code).toBe(1);
    expectOneClearLine(run.stderr, report, /ENOENT/);
    expect(existsSync(join(dir, "v.ndjson"))).toBe(false);
  });
});

describe("replay: outputs are never the input, and never each other", () => {
  const refused = async (args: string[], mention: RegExp) => {
    const run = await runCli(["replay", ...args]);
    expect(run.code).toBe(2);
    const lines = cliLines(run.stderr);
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(mention);
    expectNoStackTrace(run.stderr);
    expect(fileSha256(inFile)).toBe(inSha);
    expect(readFileSync(inFile, "utf8")).toBe(input);
    return run;
  };

  it("--out equal to the input is refused before anything is written", async () => {
    await refused([inFile, "--out", inFile], /--out.*input/);
  });

  it("--out naming the input another way (relative ../, symlink, hard link) is refused", async () => {
    await refused([inFile, "--out", join(dir, "sub", "..", "history.ndjson")], /--out.*input/);
    const sym = join(dir, "alias.ndjson");
    symlinkSync(inFile, sym);
    await refused([inFile, "--out", sym], /--out.*input/);
    const hard = join(dir, "hard.ndjson");
    linkSync(inFile, hard);
    await refused([hard, "--out", inFile], /--out.*input/);
  });

  it("--dlq, --report and --report-html equal to the input are refused", async () => {
    await refused([inFile, "--dlq", inFile], /--dlq.*input/);
    await refused([inFile, "--report", inFile], /--report.*input/);
    await refused([inFile, "--report-html", inFile], /--report-html.*input/);
  });

  /** `triage replay <args>` with standard input and output on the given descriptors (a shell's `< X`, `>> X`). */
  const runWithFds = (args: string[], stdin: number | "ignore", stdout: number | "ignore") =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn("npx", ["tsx", "src/cli.ts", "replay", ...args], { cwd: repoRoot, env: cliEnv(), stdio: [stdin, stdout, "pipe"] });
      let stderr = "";
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });

  it("--out naming the file on standard input (`replay - --out X < X`) is refused, and X is intact", async () => {
    const stdin = openSync(inFile, "r");
    const run = await runWithFds(["-", "--out", inFile], stdin, "ignore");
    closeSync(stdin);
    expect(run.code, run.stderr).toBe(2);
    expect(cliLines(run.stderr).join("\n")).toMatch(/--out.*standard input/);
    expect(fileSha256(inFile)).toBe(inSha);
  });

  it("standard output appended to the input (`replay X >> X`) is refused, and X is intact", async () => {
    const stdout = openSync(inFile, "a");
    const run = await runWithFds([inFile], "ignore", stdout);
    closeSync(stdout);
    expect(run.code, run.stderr).toBe(2);
    expect(cliLines(run.stderr).join("\n")).toMatch(/standard output is the input/);
    expect(fileSha256(inFile)).toBe(inSha);
  });

  it("--out X --dlq X is refused, and X is not created", async () => {
    const x = join(dir, "both.ndjson");
    await refused([inFile, "--out", x, "--dlq", x], /--out.*--dlq|--dlq.*--out/);
    expect(existsSync(x)).toBe(false);
  });

  it("a normal replay still writes every record (verdicts + dead letters) and exits 0", async () => {
    const out = join(dir, "verdicts.ndjson");
    const dlq = join(dir, "dlq.ndjson");
    const run = await runCli(["replay", inFile, "--out", out, "--dlq", dlq]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(alerts.length);
    expect(readFileSync(dlq, "utf8").trim().split("\n")).toHaveLength(1);
    expect(fileSha256(inFile)).toBe(inSha);
  });
});
