/** A FIFO that drops consumed slots in chunks, so shift() stays O(1) amortised. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export interface PriorityBatcherOptions<T> {
  /** Flush as soon as this many items wait. */
  maxSize: number;
  /** Flush once the oldest waiting item is this old. */
  maxDelayMs: number;
  /** Number of priority levels; level 0 goes first. */
  levels: number;
  /** Priority level of an item (0 = most urgent). */
  levelOf(item: T): number;
}

/**
 * Priority micro-batcher (pure, clock passed in): items wait per level; a batch is due when maxSize items
 * wait or the oldest is maxDelayMs old, and is filled from the most urgent level first. Callers take batches
 * only when they have capacity to process them, so urgent items overtake a backlog within the read-ahead window.
 */
export class PriorityBatcher<T> {
  private readonly queues: Fifo<{ item: T; atMs: number }>[];
  private count = 0;

  constructor(private readonly opts: PriorityBatcherOptions<T>) {
    this.queues = Array.from({ length: opts.levels }, () => new Fifo());
  }

  /** Items waiting. */
  get size(): number {
    return this.count;
  }

  /** Queue an item that arrived at nowMs. */
  add(item: T, nowMs: number): void {
    const level = Math.min(Math.max(0, Math.trunc(this.opts.levelOf(item))), this.queues.length - 1);
    this.queues[level]!.push({ item, atMs: nowMs });
    this.count++;
  }

  /** Arrival time of the oldest waiting item, or null when empty. */
  oldestAtMs(): number | null {
    let oldest: number | null = null;
    for (const q of this.queues) {
      const head = q.peek();
      if (head && (oldest === null || head.atMs < oldest)) oldest = head.atMs;
    }
    return oldest;
  }

  /** When an age-based flush becomes due, or null when nothing waits. */
  nextDueAtMs(): number | null {
    const oldest = this.oldestAtMs();
    return oldest === null ? null : oldest + this.opts.maxDelayMs;
  }

  /** True when a batch should be taken now. */
  isDue(nowMs: number): boolean {
    if (this.count === 0) return false;
    if (this.count >= this.opts.maxSize) return true;
    const due = this.nextDueAtMs();
    return due !== null && due <= nowMs;
  }

  /** Take the next batch (most urgent first) if one is due, or unconditionally with force; null if none. */
  take(nowMs: number, force = false): T[] | null {
    if (this.count === 0 || (!force && !this.isDue(nowMs))) return null;
    const batch: T[] = [];
    for (const q of this.queues) {
      while (batch.length < this.opts.maxSize && q.length > 0) batch.push(q.shift()!.item);
      if (batch.length >= this.opts.maxSize) break;
    }
    this.count -= batch.length;
    return batch;
  }
}
