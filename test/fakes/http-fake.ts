/**
 * Shared machinery for the loopback fakes (Gemini, AbuseIPDB, VirusTotal): a `node:http` server on
 * 127.0.0.1:0, socket/timer tracking so `stop()` never leaves handles behind, counters tests assert on,
 * a scripted/seeded fault plan, and window/daily rate limiters that behave like the real providers.
 *
 * Subclasses implement `handle()` which returns an {@link Outcome}; this base applies latency, sends it,
 * and records it. Nothing here knows any provider's wire format.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { EventEmitter } from "node:events";

/** A reply to send: object bodies are JSON-encoded, string bodies are sent as-is. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Defaults to `application/json`. */
  contentType?: string;
  /** Extra delay on top of `latencyMs` (e.g. Gemini's per-alert latency). */
  extraDelayMs?: number;
}

/** What a handler decided: a reply, never answer (until the client aborts or `stop()`), or drop the TCP connection. */
export type Outcome = Reply | "hang" | "reset";

/** Per-request fault hook: return a fault kind to inject, or undefined for normal behaviour. */
export type FaultPlan<K extends string> = (ctx: { seq: number; key: string | undefined }) => K | undefined;

/** Options every fake accepts. */
export interface BaseFakeOptions<K extends string> {
  /** Fixed delay before every reply (not for hangs/resets); its timers are cleared by `stop()`. Default 0. */
  latencyMs?: number;
  /** Probability (0..1) that an admitted request gets a random fault from `faultKinds`, using a seeded PRNG. Default 0. */
  faultRate?: number;
  /** Kinds drawn from when `faultRate` fires. Default: the fake's transient kinds. */
  faultKinds?: readonly K[];
  /** PRNG seed for `faultRate` (deterministic for a given arrival order). Default 1. */
  seed?: number;
  /** Per-request fault hook, consulted after `failNext()` queue and before `faultRate`. */
  faultPlan?: FaultPlan<K>;
  /** Time source in ms (default `Date.now`); lets tests drive the limiters with a fake clock. */
  clock?: () => number;
  /** Cap on the request log / per-request records kept in memory (oldest dropped). Default 100_000. */
  maxRecords?: number;
}

/** One line of the request log. */
export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  /** First key of the request (IP for TI fakes, first alert_id for Gemini). */
  key: string | undefined;
  /** HTTP status sent, or "hang"/"reset"; "aborted" when the client went away before the reply was sent. */
  status: number | "hang" | "reset" | "aborted";
  fault: string | undefined;
  /** Which limit was exceeded when the request was answered 429 by the limiter. */
  violation: string | undefined;
  startedAt: number;
  durationMs: number;
}

/** Mutable per-request scratch a handler fills in so the base can count/log it. */
export interface RequestContext {
  seq: number;
  url: URL;
  body: string;
  now: number;
  keys: string[];
  fault: string | undefined;
  violation: string | undefined;
}

/** Deterministic 32-bit PRNG (mulberry32); returns floats in [0,1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash, used to derive deterministic per-key data. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Rate limiter over a window: "sliding" (any `windowMs` span holds at most `limit` units — strictest, the
 * default) or "fixed" (windows aligned to `anchor`, like a daily quota). Only admitted requests consume.
 */
export class WindowLimiter {
  private entries: { t: number; cost: number }[] = [];
  private head = 0;
  private usedUnits = 0;
  private fixedIndex = Number.NaN;

  constructor(
    public limit: number,
    public windowMs: number,
    public mode: "sliding" | "fixed" = "sliding",
    public anchor = 0,
  ) {}

  /** Units consumed in the window containing `now`. */
  used(now: number): number {
    this.roll(now);
    return this.usedUnits;
  }

  /** Units still available now (Infinity when unlimited). */
  remaining(now: number): number {
    return Number.isFinite(this.limit) ? Math.max(0, this.limit - this.used(now)) : Infinity;
  }

  /** 0 if `cost` fits now, else ms until it fits (Infinity if it never can, i.e. cost > limit). */
  waitMs(now: number, cost = 1): number {
    if (!Number.isFinite(this.limit)) return 0;
    this.roll(now);
    if (this.usedUnits + cost <= this.limit) return 0;
    if (cost > this.limit) return Infinity;
    if (this.mode === "fixed") return this.windowEnd(now) - now;
    let freed = 0;
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      freed += e.cost;
      if (this.usedUnits - freed + cost <= this.limit) return Math.max(1, e.t + this.windowMs - now);
    }
    return this.windowMs;
  }

  /** Record `cost` units used at `now`. */
  consume(now: number, cost = 1): void {
    if (!Number.isFinite(this.limit)) return;
    this.roll(now);
    this.usedUnits += cost;
    if (this.mode === "sliding") this.entries.push({ t: now, cost });
  }

  /** End (epoch ms) of the fixed window containing `now` (for sliding: when the oldest unit expires). */
  windowEnd(now: number): number {
    if (this.mode === "fixed") {
      return this.anchor + (Math.floor((now - this.anchor) / this.windowMs) + 1) * this.windowMs;
    }
    this.roll(now);
    const first = this.entries[this.head];
    return first ? first.t + this.windowMs : now + this.windowMs;
  }

  /** Forget all usage (e.g. "a new day started"). */
  reset(): void {
    this.entries = [];
    this.head = 0;
    this.usedUnits = 0;
    this.fixedIndex = Number.NaN;
  }

  private roll(now: number): void {
    if (this.mode === "fixed") {
      const idx = Math.floor((now - this.anchor) / this.windowMs);
      if (idx !== this.fixedIndex) {
        this.fixedIndex = idx;
        this.usedUnits = 0;
      }
      return;
    }
    while (this.head < this.entries.length && this.entries[this.head]!.t + this.windowMs <= now) {
      this.usedUnits -= this.entries[this.head]!.cost;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** Push to a bounded array, dropping the oldest entries in chunks (amortised O(1)). */
export function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max + Math.max(1, Math.floor(max / 10))) list.splice(0, list.length - max);
}

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/**
 * Base class of the fakes. Counters are public fields so tests can assert on them directly;
 * `resetStats()` zeroes them without touching limiter state or the fault plan.
 */
export abstract class HttpFake<K extends string> {
  /** Base URL, `http://127.0.0.1:PORT` (no trailing slash). */
  url = "";
  /** Every request received (including ones answered 4xx/429 or hung). */
  totalRequests = 0;
  /** Requests currently open (arrived, not yet answered/closed). */
  inFlight = 0;
  /** High-water mark of `inFlight`. */
  maxConcurrent = 0;
  /** Requests answered 429 because a configured limit was exceeded (not scripted 429 faults). */
  violations = 0;
  /** Violations by limit name (e.g. "rpm", "tpm", "rpd", "daily"). */
  readonly violationsBy = new Map<string, number>();
  /** Requests that were hung ("hang" fault). */
  hangs = 0;
  /** Connections dropped by the "reset" fault. */
  resets = 0;
  /** Replies sent, by HTTP status. */
  readonly statusCounts = new Map<number, number>();
  /** Requests per key, all statuses (IP for TI fakes; each alert_id in the prompt for Gemini). */
  readonly keyCounts = new Map<string, number>();
  /** Requests per key that were answered 200. */
  readonly okKeyCounts = new Map<string, number>();
  /** Injected faults by kind (scripted, planned or random). */
  readonly faultCounts = new Map<string, number>();
  /** Request log, oldest first, bounded by `maxRecords`. */
  readonly log: RequestLogEntry[] = [];

  /** Current fixed latency (ms) applied before each reply; may be changed between requests. */
  latencyMs: number;
  /** Per-request fault hook (see {@link BaseFakeOptions.faultPlan}); settable at any time. */
  faultPlan: FaultPlan<K> | undefined;
  /** Random fault probability; settable at any time. */
  faultRate: number;
  /** Kinds drawn by `faultRate`. */
  faultKinds: readonly K[];

  protected readonly clock: () => number;
  protected readonly maxRecords: number;
  protected readonly startedAt: number;
  private down: number | false = false;
  private readonly faultQueue: K[] = [];
  private readonly rng: () => number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;
  private readonly events = new EventEmitter();

  protected constructor(opts: BaseFakeOptions<K>, defaultFaultKinds: readonly K[]) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.faultPlan = opts.faultPlan;
    this.faultRate = opts.faultRate ?? 0;
    this.faultKinds = opts.faultKinds ?? defaultFaultKinds;
    this.clock = opts.clock ?? Date.now;
    this.maxRecords = opts.maxRecords ?? 100_000;
    this.rng = mulberry32(opts.seed ?? 1);
    this.startedAt = this.clock();
    this.events.setMaxListeners(0);
  }

  /** Provider-specific request handling. */
  protected abstract handle(req: IncomingMessage, ctx: RequestContext): Promise<Outcome>;

  /** Provider-specific body for `setDown()`. */
  protected abstract downReply(status: number): Reply;

  /** Bind 127.0.0.1:0 and set `url`. Called by each subclass's static `start()`. */
  protected async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.onRequest(req, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 5_000;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
    this.url = `http://127.0.0.1:${addr.port}`;
    this.server = server;
  }

  /** Close the server, destroy every open socket (hung requests included) and clear pending latency timers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    server.closeAllConnections();
    await closed;
    this.events.emit("change");
  }

  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Script the next `n` admitted requests to fail with `kind` (queued in order, before `faultPlan`/`faultRate`). */
  failNext(n: number, kind: K): this {
    for (let i = 0; i < n; i++) this.faultQueue.push(kind);
    return this;
  }

  /** Drop any scripted faults not yet consumed. */
  clearFaults(): this {
    this.faultQueue.length = 0;
    return this;
  }

  /** Number of scripted faults still queued. */
  get pendingFaults(): number {
    return this.faultQueue.length;
  }

  /** Provider down: answer every request with `status` (500 or 503, default 503) until `setDown(false)`. */
  setDown(down: boolean, status: 500 | 503 = 503): this {
    this.down = down ? status : false;
    return this;
  }

  /** Zero all counters and the log (limiter state and fault plan are untouched). */
  resetStats(): void {
    this.totalRequests = 0;
    this.maxConcurrent = this.inFlight;
    this.violations = 0;
    this.hangs = 0;
    this.resets = 0;
    for (const m of [this.violationsBy, this.statusCounts, this.keyCounts, this.okKeyCounts, this.faultCounts]) m.clear();
    this.log.length = 0;
  }

  /** Replies sent with `status` so far. */
  countStatus(status: number): number {
    return this.statusCounts.get(status) ?? 0;
  }

  /** Resolve once `predicate(this)` holds; re-checked on every request arrival/completion. Rejects after `timeoutMs`. */
  waitFor(predicate: (fake: this) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onChange = (): void => {
        if (predicate(this)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`waitFor timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.off("change", onChange);
      };
      this.events.on("change", onChange);
    });
  }

  /** Resolve once at least `n` requests have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void> {
    return this.waitFor((f) => f.totalRequests >= n, timeoutMs);
  }

  /** Next fault for an admitted request: `failNext` queue, then `faultPlan`, then `faultRate` (seeded). */
  protected takeFault(seq: number, key: string | undefined): K | undefined {
    const queued = this.faultQueue.shift();
    if (queued !== undefined) return queued;
    const planned = this.faultPlan?.({ seq, key });
    if (planned !== undefined) return planned;
    if (this.faultRate > 0 && this.faultKinds.length > 0 && this.rng() < this.faultRate) {
      return this.faultKinds[Math.floor(this.rng() * this.faultKinds.length)];
    }
    return undefined;
  }

  /** Resolve after `ms` unless `stop()` comes first (then resolve early with false). */
  protected sleep(ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(!this.stopped);
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve(!this.stopped);
      }, ms);
      this.timers.set(timer, () => resolve(false));
      this.events.emit("change");
    });
  }

  /** Pending latency timers (0 after `stop()`); for leak assertions. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Open TCP connections (0 after `stop()`); for leak assertions. */
  get openSockets(): number {
    return this.sockets.size;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = this.clock();
    const seq = ++this.totalRequests;
    this.inFlight++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.inFlight);
    let closed = false;
    const entry: RequestLogEntry = {
      seq,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      key: undefined,
      status: "aborted",
      fault: undefined,
      violation: undefined,
      startedAt,
      durationMs: 0,
    };
    res.on("close", () => {
      if (closed) return;
      closed = true;
      this.inFlight--;
      entry.durationMs = this.clock() - startedAt;
      this.events.emit("change");
    });
    this.events.emit("change");

    const body = await readBody(req).catch(() => "");
    const ctx: RequestContext = {
      seq,
      url: new URL(req.url ?? "/", "http://127.0.0.1"),
      body,
      now: this.clock(),
      keys: [],
      fault: undefined,
      violation: undefined,
    };
    let outcome: Outcome;
    if (this.down !== false) {
      ctx.fault = "down";
      outcome = this.downReply(this.down);
    } else {
      try {
        outcome = await this.handle(req, ctx);
      } catch (err) {
        outcome = { status: 500, body: `fake handler crashed: ${String(err)}`, contentType: "text/plain" };
      }
    }

    entry.key = ctx.keys[0];
    entry.fault = ctx.fault;
    entry.violation = ctx.violation;
    for (const k of ctx.keys) bump(this.keyCounts, k);
    if (ctx.fault !== undefined) bump(this.faultCounts, ctx.fault);
    if (ctx.violation !== undefined) {
      this.violations++;
      bump(this.violationsBy, ctx.violation);
    }
    pushBounded(this.log, entry, this.maxRecords);

    if (outcome === "hang") {
      this.hangs++;
      entry.status = "hang";
      this.afterReply(ctx, "hang");
      this.events.emit("change");
      return;
    }
    if (outcome === "reset") {
      this.resets++;
      entry.status = "reset";
      this.afterReply(ctx, "reset");
      req.socket.destroy();
      return;
    }
    const ok = await this.sleep(this.latencyMs + (outcome.extraDelayMs ?? 0));
    if (!ok || closed || res.destroyed) {
      this.afterReply(ctx, "aborted");
      return;
    }
    const payload = typeof outcome.body === "string" ? outcome.body : outcome.body === undefined ? "" : JSON.stringify(outcome.body);
    res.writeHead(outcome.status, {
      "content-type": outcome.contentType ?? "application/json",
      "content-length": String(Buffer.byteLength(payload)),
      ...outcome.headers,
    });
    res.end(payload);
    entry.status = outcome.status;
    bump(this.statusCounts, outcome.status);
    if (outcome.status === 200) for (const k of ctx.keys) bump(this.okKeyCounts, k);
    this.afterReply(ctx, outcome.status);
    this.events.emit("change");
  }

  /** Hook for subclasses that record per-request outcomes (HTTP status sent, or hang/reset/aborted). */
  protected afterReply(_ctx: RequestContext, _status: number | "hang" | "reset" | "aborted"): void {}
}

/** Read a request body as UTF-8 (capped at 64 MiB). */
export async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new Error("body too large");
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Format ms as a proto Duration string ("26s", "0.75s"); sub-second precision matters when windows are scaled down. */
export function protoDuration(ms: number, integerSeconds = false): string {
  const safe = Number.isFinite(ms) ? Math.max(0, ms) : 0;
  if (integerSeconds) return `${Math.max(safe > 0 ? 1 : 0, Math.floor(safe / 1000))}s`;
  return `${Number((Math.ceil(safe) / 1000).toFixed(3))}s`;
}
