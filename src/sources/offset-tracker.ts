/**
 * Tracks in-flight offsets per partition and says how far each partition may be committed:
 * up to (not including) the lowest offset not yet acknowledged. Pure. Offsets arrive as decimal strings and
 * are held as numbers (exact below 2^53, i.e. ~285 years at a million records per second per partition).
 */
export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionState>();

  /** Record that an offset was handed to the pipeline. Offsets per partition arrive in increasing order. */
  track(topic: string, partition: number, offset: string): void {
    const key = `${topic}\u0000${partition}`;
    let state = this.partitions.get(key);
    if (!state) {
      state = { topic, partition, pending: new Map(), order: [], head: 0, committable: null, committed: null };
      this.partitions.set(key, state);
    }
    const n = Number(offset);
    if (state.pending.has(n)) return; // re-fetch of a record already in flight
    state.pending.set(n, false);
    state.order.push(n);
  }

  /** Mark an offset done; returns false when the partition is no longer tracked (revoked). */
  ack(topic: string, partition: number, offset: string): boolean {
    const state = this.partitions.get(`${topic}\u0000${partition}`);
    const n = Number(offset);
    if (!state?.pending.has(n)) return false;
    state.pending.set(n, true);
    // Advance past the contiguous acknowledged prefix.
    while (state.head < state.order.length) {
      const next = state.order[state.head]!;
      if (state.pending.get(next) !== true) break;
      state.pending.delete(next);
      state.committable = next + 1;
      state.head++;
    }
    if (state.head > 1024 && state.head * 2 > state.order.length) {
      state.order = state.order.slice(state.head);
      state.head = 0;
    }
    return true;
  }

  /** Offsets that may be committed now and were not committed yet (offset = next to read). */
  pendingCommits(): { topic: string; partition: number; offset: string }[] {
    const out: { topic: string; partition: number; offset: string }[] = [];
    for (const s of this.partitions.values()) {
      if (s.committable !== null && s.committable !== s.committed) out.push({ topic: s.topic, partition: s.partition, offset: s.committable.toString() });
    }
    return out;
  }

  /** Remember that these offsets were committed. */
  markCommitted(commits: readonly { topic: string; partition: number; offset: string }[]): void {
    for (const c of commits) {
      const s = this.partitions.get(`${c.topic}\u0000${c.partition}`);
      if (s) s.committed = Number(c.offset);
    }
  }

  /**
   * True when this offset is in flight or already acknowledged (below the committable point): a re-fetch after
   * a rebalance that kept the partition, which must not be processed twice.
   */
  isKnown(topic: string, partition: number, offset: string): boolean {
    const state = this.partitions.get(`${topic}\u0000${partition}`);
    if (!state) return false;
    const n = Number(offset);
    return state.pending.has(n) || (state.committable !== null && n < state.committable);
  }

  /** Forget partitions not in `keep` (after a rebalance): their in-flight acks are ignored and never committed. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [key, s] of this.partitions) if (!keep.has(`${s.topic}:${s.partition}`)) this.partitions.delete(key);
  }

  /** Records handed out and not yet acknowledged, over all partitions. */
  inFlight(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.order.length - s.head;
    return n;
  }
}

interface PartitionState {
  topic: string;
  partition: number;
  /** offset → acknowledged? */
  pending: Map<number, boolean>;
  /** Offsets in arrival order, consumed from head. */
  order: number[];
  head: number;
  /** Next offset to read once everything before it is acknowledged. */
  committable: number | null;
  committed: number | null;
}
