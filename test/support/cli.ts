// Runs the real command line (`npx tsx src/cli.ts …`) as a child process, the way a user does.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const repoRoot = new URL("../../", import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a hermetic replay: rules classifier unless the caller sets GEMINI_*, no Kafka, cache in memory. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of the test runner's service settings leaks in (KAFKA_BROKERS, GEMINI_*, CACHE_URL…).
    if (/^(KAFKA_|GEMINI_|CACHE_|TRIAGE_|TI_|ABUSEIPDB|VIRUSTOTAL|AI_CACHE|HTTP_|LOG_LEVEL)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, CACHE_URL: "memory://", LOG_LEVEL: "warn", ...extra };
}

/** Run `triage <args>` to completion (bounded by timeoutMs: the child is killed and the run fails). */
export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["tsx", "src/cli.ts", ...args], { cwd: repoRoot, env: opts.env ?? cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`triage ${args.join(" ")} did not finish within ${opts.timeoutMs ?? 60_000} ms; stderr:\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** SHA-256 of a file, to prove an input was left intact. */
export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Lines of the CLI's own messages (pino's JSON log lines excluded). */
export function cliLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("triage:"));
}
