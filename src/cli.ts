#!/usr/bin/env node
/** Command line: `run` (Kafka, or the bundled examples without KAFKA_BROKERS) and `replay FILE`. */
import { readFileSync, createReadStream } from "node:fs";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { loadConfig, ConfigError } from "./config/load.js";
import { configTable } from "./config/docs.js";
import type { Config } from "./config/schema.js";
import { startService, type Service, type ServiceIO } from "./main.js";
import type { TriageError } from "./core/errors.js";
import { createLogger, type Logger } from "./telemetry/logger.js";
import { formatSummary, runSummary } from "./telemetry/summary.js";
import type { AlertSource } from "./core/ports/index.js";
import { LineSource } from "./sources/file.js";
import { checkOutputs, fsErrorText, type NamedOutput } from "./sinks/output-paths.js";
import { parseLabelsMap, type LabelMeaning } from "./report/labels.js";
import { labelPath, ReplayObserver, writeReports } from "./report/replay.js";
import { closeSync, fstatSync, openSync } from "node:fs";

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

/** One line of ours on stderr, then exit: no stack trace for an expected failure. */
function exitWith(code: number, message: string): never {
  process.stderr.write(`triage: ${message}\n`);
  process.exit(code);
}

interface FiniteRunOptions {
  /** Wrap the line source (replay observes every outcome through it). */
  wrapSource?: (inner: AlertSource) => AlertSource;
  /** Called once the service runs (replay reads the memory's metrics along the stream). */
  onStarted?: (service: Service) => void;
  /** Called with the run's summary once everything was written (replay writes its reports). */
  after?: (summary: Record<string, unknown>, service: Service) => Promise<void>;
}

/**
 * Process a finite input to the end and print the summary. A lost write (the pipeline's fatal error: ENOSPC, EPIPE…)
 * ends the run with one line naming the file and the error, and exit code 1: never a silent exit 0.
 */
async function runFinite(config: Config, logger: Logger, io: ServiceIO, opts: FiniteRunOptions = {}): Promise<void> {
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  let acked = 0;
  // "rate-limited": model requests the rate limiters held back so far (quota waits, 429 pauses), from their metric.
  let limited = 0;
  let throttleMetric: Service["metrics"]["limiterThrottled"] | undefined;
  const refreshLimited = async () => {
    if (!bar || !throttleMetric) return;
    limited = (await throttleMetric.get()).values.reduce((n, v) => n + v.value, 0);
    bar.update(acked, { limited });
  };
  if (process.stderr.isTTY && typeof io.input === "string") {
    bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: "{bar} {value}/{total} {percentage}% | {duration_formatted} elapsed | ETA {eta_formatted} | rate-limited {limited}",
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(await countLines(io.input), 0, { limited: 0 });
  }
  const onAck = () => {
    acked++;
    bar?.update(acked, { limited });
    void refreshLimited();
  };
  const source =
    opts.wrapSource && io.input !== undefined ? opts.wrapSource(new LineSource(io.input, { maxLineBytes: config.MAX_RECORD_BYTES, onAck })) : undefined;
  const service = await startService(config, logger, { ...io, onAck, ...(source ? { source } : {}) });
  throttleMetric = service.metrics.limiterThrottled;
  // Also while no record completes (every request waiting out a 429), so the count moves when the bar stalls.
  const limitedTimer = bar ? setInterval(() => void refreshLimited(), 1000).unref() : undefined;
  opts.onStarted?.(service);
  const onSignal = (sig: string) => void service.stop(sig).then((ok) => process.exit(ok ? 130 : 1));
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  const fatal = new Promise<TriageError>((resolve) => service.pipeline.onFatal(resolve));
  const failed = await Promise.race([service.finished.then(() => null), fatal]);
  if (failed) {
    bar?.stop();
    // main's own fatal handler is shutting down; records not written stay unwritten, and we say so.
    exitWith(1, `${failed.message}; stopped with ${acked} record(s) written, the rest were not`);
  }
  await service.stop("input exhausted");
  clearInterval(limitedTimer);
  await refreshLimited();
  bar?.stop();
  const summary = await runSummary(service.telemetry.stats, service.metrics, (performance.now() - started) / 1000);
  process.stderr.write(`${formatSummary(summary)}\n`);
  if (opts.after) await opts.after(summary, service);
}

/** `triage --version`: our version and the Node running us (the `node` dev dependency under npm, 24+). */
const packageVersion = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
const program = new Command()
  .name("triage")
  .description("Streaming SIEM alert triage")
  .version(`triage ${packageVersion} (node ${process.version})`, "-V, --version");

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
  .description("Process an NDJSON file of alerts (or - for stdin) through the pipeline; compare with past analyst decisions and write a report")
  .argument("<file>", "NDJSON input, one alert per line; - reads stdin")
  .option("--out <file>", "write verdicts here instead of stdout")
  .option("--dlq <file>", "write dead letters here instead of stderr")
  .option("--report <file>", "write the report as JSON (the run summary, plus agreement with the analysts when --labels is given)")
  .option("--report-html <file>", "write the report as one self-contained HTML page (charts inline, no network)")
  .option(
    "--labels <field>",
    "dotted path of each record's past analyst decision (e.g. IncidentGrade, kibana.alert.workflow_reason); taken out of the record before anything " +
      "else sees it",
  )
  .option(
    "--labels-map <file|inline>",
    "map label values to true_positive|benign_positive|false_positive|needs_review|ignore: a JSON file or Value=meaning,Value=meaning (wins over the " +
      "built-in vendor defaults)",
  )
  .action(async (file: string, opts: { out?: string; dlq?: string; report?: string; reportHtml?: string; labels?: string; labelsMap?: string }) => {
    const config = configOrExit();
    if (opts.labels !== undefined && labelPath(opts.labels) === null)
      exitWith(2, `--labels ${JSON.stringify(opts.labels)}: expected a dotted field path such as disposition or kibana.alert.workflow_reason`);
    if (opts.labelsMap !== undefined && opts.labels === undefined) exitWith(2, "--labels-map needs --labels FIELD");
    let labelsMap: ReadonlyMap<string, LabelMeaning> = new Map();
    if (opts.labelsMap !== undefined) {
      const parsed = parseLabelsMap(opts.labelsMap);
      if (!parsed.ok) exitWith(2, parsed.message);
      labelsMap = parsed.value;
    }
    if (file !== "-") {
      try {
        const fd = openSync(file, "r");
        const isDir = fstatSync(fd).isDirectory();
        closeSync(fd);
        if (isDir) throw Object.assign(new Error("EISDIR: illegal operation on a directory"), { code: "EISDIR" });
      } catch (err) {
        exitWith(1, `cannot read the input ${file}: ${fsErrorText(err)}`);
      }
    }
    // Before the first record: outputs are never the input, never each other, and all writable.
    const outputs: NamedOutput[] = [];
    for (const [option, path] of [
      ["--out", opts.out],
      ["--dlq", opts.dlq],
      ["--report", opts.report],
      ["--report-html", opts.reportHtml],
    ] as const)
      if (path) outputs.push({ option, path });
    const problem = checkOutputs(file === "-" ? null : file, outputs, {
      streams: [
        { name: "standard output", fd: 1 },
        { name: "standard error", fd: 2 },
      ],
    });
    if (problem) exitWith(problem.kind === "refused" ? 2 : 1, problem.message);
    const logger = createLogger(config.LOG_LEVEL);
    const observer = new ReplayObserver({ labelField: opts.labels ?? null, labelsMap });
    const io: ServiceIO = {
      input: file === "-" ? process.stdin : file,
      ...(opts.out ? { output: opts.out } : {}),
      ...(opts.dlq ? { deadLetters: opts.dlq } : {}),
    };
    await runFinite(config, logger, io, {
      wrapSource: (inner) => observer.wrap(inner),
      onStarted: (service) => observer.attach(service.metrics.registry),
      after: async (summary) => {
        if (!opts.report && !opts.reportHtml) return;
        const report = await observer.report(summary, file === "-" ? "stdin" : file);
        try {
          await writeReports(report, { json: opts.report, html: opts.reportHtml });
        } catch (err) {
          exitWith(1, (err as Error).message);
        }
      },
    });
  });

program
  .command("config")
  .description("Print the configuration options as a Markdown table")
  .action(() => {
    process.stdout.write(`${configTable()}\n`);
  });

// `triage formats check FILE`: which format claims each record, what it becomes, and why the others declined.
program
  .command("formats")
  .description("Input formats (built-in mappings plus TRIAGE_FORMATS_DIR)")
  .command("check")
  .description("For each NDJSON record: the detected format, the normalized alert, and why the other formats did not match")
  .argument("<file>", "NDJSON records, one per line; - reads stdin")
  .option("--json", "print one JSON object per record instead of text")
  .action(async (file: string, opts: { json?: boolean }) => {
    const config = configOrExit();
    const { checkRecord, loadFormats } = await import("./transforms/normalize/index.js");
    const { renderCheck } = await import("./transforms/normalize/check-report.js");
    const formats = loadFormats(config.TRIAGE_FORMATS_DIR);
    if (!formats.ok) exitWith(2, `invalid format mappings:\n${formats.message}`);
    const { createInterface } = await import("node:readline");
    const lines = createInterface({ input: file === "-" ? process.stdin : createReadStream(file), crlfDelay: Infinity });
    const limits = { maxRecordBytes: config.MAX_RECORD_BYTES, maxJsonDepth: config.MAX_JSON_DEPTH };
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      const check = checkRecord(Buffer.from(line), limits, formats.value);
      process.stdout.write(`${opts.json ? JSON.stringify({ record: n, ...check }) : renderCheck(n, check)}\n`);
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Startup failures (broker unreachable, cache path unwritable…): one clear line, non-zero exit.
  const e = err as { code?: string; message?: string };
  process.stderr.write(`triage: cannot start: ${e.code ? `[${e.code}] ` : ""}${e.message ?? String(err)}\n`);
  process.exit(1);
}
