import type { Alert } from "../alert.js";
import type { Enrichment } from "../enrichment.js";
import type { Decision, Verdict } from "../verdict.js";

/** Where a record came from, for DLQ headers and logs. */
export interface RecordOrigin {
  topic?: string;
  partition?: number;
  offset?: string;
  /** 1-based line for file/stdin sources. */
  line?: number;
}

/** What became of a record: its published verdict or its dead letter. */
export type RecordOutcome = { verdict: Verdict } | { deadLetter: DeadLetter };

/** Size and SHA-256 of a record's whole bytes. */
export interface RecordDigest {
  bytes: number;
  sha256: string;
}

/** One input record handed to the pipeline; `ack` is called once it is published or dead-lettered. */
export interface SourceRecord {
  value: Buffer | null;
  /** Set by a source that passed on only a prefix of a longer record (bounded memory): the whole record. */
  full?: RecordDigest;
  origin: RecordOrigin;
  receivedAtMs: number;
  ack(outcome: RecordOutcome): void;
}

/** What a source pushes into: bounded, so sources wait while it is full. */
export interface RecordIntake {
  /** Hand one record to the pipeline. */
  push(record: SourceRecord): void;
  /** True while the read-ahead window has room. */
  hasCapacity(): boolean;
  /** Resolves when the window has room again (or immediately). */
  whenCapacity(): Promise<void>;
}

/** Where alerts come from (Kafka, a file, stdin). */
export interface AlertSource {
  readonly name: string;
  /** Start delivering into the intake; returns once delivery has started. */
  start(intake: RecordIntake): Promise<void>;
  /** Resolves when a finite source has delivered everything (never for Kafka). */
  readonly exhausted: Promise<void>;
  /** Stop reading new records (first step of shutdown). */
  stopReading(): Promise<void>;
  /** Commit what was acknowledged and release connections (last step of shutdown). */
  close(): Promise<void>;
}

/** An alert with its threat intel (null when enrichment is off). */
export interface EnrichedAlert {
  alert: Alert;
  enrichment: Enrichment | null;
}

/** Adds threat intel to a batch of alerts; never throws for provider failures (marks them instead). */
export interface Enricher {
  enrich(alerts: readonly Alert[]): Promise<EnrichedAlert[]>;
}

/** Decides a batch of alerts; returns one decision per input, same order. Never loses an alert. */
export interface Classifier {
  readonly name: string;
  classify(items: readonly EnrichedAlert[]): Promise<Decision[]>;
}

/** Publishes verdicts (Kafka topic, stdout, file). Resolves only when durably written. */
export interface VerdictSink {
  publish(verdicts: readonly Verdict[]): Promise<void>;
  close(): Promise<void>;
}

/** A record that could not be decoded/validated, with the reason. */
export interface DeadLetter {
  value: Buffer | null;
  /** As SourceRecord.full: the whole record when `value` is only its prefix. */
  full?: RecordDigest;
  code: string;
  message: string;
  origin: RecordOrigin;
  failedAtMs: number;
}

/** Writes dead letters. Resolves only when durably written. */
export interface DeadLetterSink {
  write(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}
