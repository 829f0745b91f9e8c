/**
 * The one close mechanism of the service: an ordered list of named closers, run one after the other in flow
 * order (sinks flush → source commits → feedback → HTTP → producer → monitors → Redis → caches), bounded by one
 * deadline. A closer that fails is logged with its name and the next one still runs; once the deadline has
 * passed, the remaining closers are still started (so connections are released) but no longer awaited.
 */
import type { Logger } from "../telemetry/logger.js";

/** One resource to release at shutdown. */
export interface Closer {
  /** For logs: which step failed or timed out. */
  readonly name: string;
  close(): Promise<void>;
}

export interface CloseReport {
  /** Closers that threw. */
  failed: string[];
  /** Closers still running when the deadline passed (or started after it). */
  timedOut: string[];
}

/** Run closers in order within timeoutMs; never throws. */
export async function closeInOrder(closers: readonly Closer[], opts: { timeoutMs: number; logger: Logger; now?: () => number }): Promise<CloseReport> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutMs;
  const report: CloseReport = { failed: [], timedOut: [] };
  for (const closer of closers) {
    const closing = Promise.resolve()
      .then(() => closer.close())
      .then(
        () => "closed" as const,
        (err: unknown) => {
          report.failed.push(closer.name);
          opts.logger.warn({ closer: closer.name, err: err instanceof Error ? err.message : String(err) }, "close failed");
          return "failed" as const;
        },
      );
    const left = deadline - now();
    if (left <= 0) {
      report.timedOut.push(closer.name);
      continue;
    }
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([closing, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left)))]);
    clearTimeout(timer);
    if (outcome === "timeout") report.timedOut.push(closer.name);
  }
  if (report.timedOut.length > 0)
    opts.logger.error({ closers: report.timedOut, timeoutMs: opts.timeoutMs }, "closers did not finish within the shutdown timeout");
  return report;
}

/** Resolves true when drain() finished within timeoutMs, false otherwise (drain keeps running). */
export async function drainWithin(drain: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([drain().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
  clearTimeout(timer);
  return drained;
}
