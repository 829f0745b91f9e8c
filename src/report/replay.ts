/**
 * Replay's observer: wraps the line source (labels out, outcomes in), samples the memory's spot-check estimate
 * along the stream, and at the end builds and writes the JSON and HTML reports.
 */
import { writeFileSync } from "node:fs";
import type { Registry } from "prom-client";
import type { AlertSource } from "../core/ports/index.js";
import { LabelledSource, type ObservedRecord } from "../sources/labelled.js";
import { fsErrorText } from "../sinks/output-paths.js";
import { renderCharts } from "./charts.js";
import { ReplayCollector } from "./collector.js";
import { renderHtml } from "./html.js";
import type { LabelMeaning } from "./labels.js";
import { readMemoryFigures } from "./memory-metrics.js";
import { buildReport, type MemorySample, type ReplayReportFile } from "./model.js";

export interface ReplayObserverOptions {
  /** The `--labels` field (dotted path), or null. */
  labelField: string | null;
  labelsMap?: ReadonlyMap<string, LabelMeaning>;
  windowAlerts?: number;
}

/** Split a `--labels` field into its dotted path; null when it has an empty segment. */
export function labelPath(field: string): string[] | null {
  const segs = field.split(".");
  return segs.every((s) => s.trim() !== "") ? segs : null;
}

export class ReplayObserver {
  readonly collector: ReplayCollector;
  private readonly samples: MemorySample[] = [];
  private registry: Registry | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ReplayObserverOptions) {
    this.collector = new ReplayCollector({
      labelled: opts.labelField !== null,
      ...(opts.labelsMap ? { labelsMap: opts.labelsMap } : {}),
      ...(opts.windowAlerts ? { windowAlerts: opts.windowAlerts } : {}),
    });
  }

  /** The source the pipeline reads: labels taken out, every outcome observed. */
  wrap(inner: AlertSource): AlertSource {
    return new LabelledSource(inner, { labelPath: this.opts.labelField === null ? null : labelPath(this.opts.labelField), onOutcome: (o) => this.observe(o) });
  }

  /** The run's metrics, once the service exists (the memory's estimate is read from them). */
  attach(registry: Registry): void {
    this.registry = registry;
  }

  private observe(o: ObservedRecord): void {
    this.collector.observe(o);
    if (this.collector.records % this.collector.windowAlerts === 0) this.sample();
  }

  private sample(): void {
    const registry = this.registry;
    if (!registry) return;
    const after = this.collector.records;
    this.sampling = this.sampling.then(async () => {
      const m = await readMemoryFigures(registry, 0);
      if (m.spot_checks > 0) this.samples.push({ after_records: after, spot_checks: m.spot_checks, agreement_estimate: m.agreement_estimate });
    });
  }

  /** The report of the finished run (`summary` is runSummary's). */
  async report(summary: Record<string, unknown>, input: string, generatedAt = new Date()): Promise<ReplayReportFile> {
    if (this.collector.records % this.collector.windowAlerts !== 0) this.sample();
    await this.sampling;
    const answeredFromSources = this.collector.bySource.get("memory")?.verdicts ?? 0;
    const memory = this.registry
      ? await readMemoryFigures(this.registry, answeredFromSources)
      : { answered: answeredFromSources, spot_checks: 0, spot_check_disagreements: 0, agreement_estimate: null, from: "verdict_sources" as const };
    return buildReport({ collector: this.collector, summary, memory, memorySamples: this.samples, labelField: this.opts.labelField, input, generatedAt });
  }
}

/** Write the JSON and/or HTML report; a file error is thrown as one line naming the option, path and errno. */
export async function writeReports(report: ReplayReportFile, paths: { json?: string | undefined; html?: string | undefined }): Promise<void> {
  const write = (option: string, path: string, body: string) => {
    try {
      writeFileSync(path, body);
    } catch (err) {
      throw new Error(`cannot write ${option} ${path}: ${fsErrorText(err)}`);
    }
  };
  if (paths.json) write("--report", paths.json, `${JSON.stringify(report, null, 2)}\n`);
  if (paths.html) write("--report-html", paths.html, renderHtml(report, await renderCharts(report)));
}
