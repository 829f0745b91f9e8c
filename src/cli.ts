#!/usr/bin/env node
/** Command line: `run` (Kafka, or the bundled examples without KAFKA_BROKERS) and `replay FILE`. */
import { writeFileSync, createReadStream } from "node:fs";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { loadConfig, ConfigError } from "./config/load.js";
import { configTable } from "./config/docs.js";
import type { Config } from "./config/schema.js";
import { startService, type ServiceIO } from "./main.js";
import { createLogger, type Logger } from "./telemetry/logger.js";
import { formatSummary, runSummary } from "./telemetry/summary.js";

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Count lines up front so the progress bar can show % and ETA. */
async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/** Process a finite input to the end, print the summary, optionally write the JSON report. */
async function runFinite(config: Config, logger: Logger, io: ServiceIO, reportPath?: string): Promise<void> {
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  let acked = 0;
  if (process.stderr.isTTY && typeof io.input === "string") {
    bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: "{bar} {value}/{total} {percentage}% | {duration_formatted} elapsed | ETA {eta_formatted} | rate-limited {limited}", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(await countLines(io.input), 0, { limited: 0 });
  }
  const service = await startService(config, logger, { ...io, onAck: () => { acked++; bar?.update(acked, { limited: 0 }); } });
  const onSignal = (sig: string) => void service.stop(sig).then((ok) => process.exit(ok ? 130 : 1));
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  await service.finished;
  await service.stop("input exhausted");
  bar?.stop();
  const summary = await runSummary(service.telemetry.stats, service.metrics, (performance.now() - started) / 1000);
  process.stderr.write(`${formatSummary(summary)}\n`);
  if (reportPath) writeFileSync(reportPath, `${JSON.stringify(summary, null, 2)}\n`);
}

const program = new Command().name("triage").description("Streaming SIEM alert triage");

program
  .command("run")
  .description("Consume TRIAGE_INPUT_TOPIC and publish verdicts; without KAFKA_BROKERS, process INPUT_FILE to stdout")
  .action(async () => {
    const config = configOrExit();
    const logger = createLogger(config.LOG_LEVEL);
    if (config.KAFKA_BROKERS === undefined) {
      logger.info({ input: config.INPUT_FILE }, "KAFKA_BROKERS unset: processing the input file to stdout (embedded default)");
      await runFinite(config, logger, { input: config.INPUT_FILE });
      return;
    }
    const service = await startService(config, logger);
    const onSignal = (sig: string) => void service.stop(sig).then((ok) => process.exit(ok ? 0 : 1));
    process.once("SIGINT", () => onSignal("SIGINT"));
    process.once("SIGTERM", () => onSignal("SIGTERM"));
  });

program
  .command("replay")
  .description("Process an NDJSON file of alerts (or - for stdin) through the pipeline")
  .argument("<file>", "NDJSON input, one alert per line; - reads stdin")
  .option("--out <file>", "write verdicts here instead of stdout")
  .option("--dlq <file>", "write dead letters here instead of stderr")
  .option("--report <file>", "write the run summary as JSON")
  .action(async (file: string, opts: { out?: string; dlq?: string; report?: string }) => {
    const config = configOrExit();
    const logger = createLogger(config.LOG_LEVEL);
    await runFinite(config, logger, { input: file === "-" ? process.stdin : file, ...(opts.out ? { output: opts.out } : {}), ...(opts.dlq ? { deadLetters: opts.dlq } : {}) }, opts.report);
  });

program
  .command("config")
  .description("Print the configuration options as a Markdown table")
  .action(() => {
    process.stdout.write(`${configTable()}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Startup failures (broker unreachable, cache path unwritable…): one clear line, non-zero exit.
  const e = err as { code?: string; message?: string };
  process.stderr.write(`triage: cannot start: ${e.code ? `[${e.code}] ` : ""}${e.message ?? String(err)}\n`);
  process.exit(1);
}
