/**
 * Coalesces concurrent calls with the same key into one: the first caller runs fn, the others await its
 * result. In-process; a Redis lock variant serves the same role across instances.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Run fn for key unless a call for key is already in flight. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
