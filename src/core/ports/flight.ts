/**
 * Cross-instance single-flight: one call per key across every instance, followers share the leader's answer.
 * resources/redis-lock.ts (DistributedSingleFlight, a Redis lock per key) implements it; without Redis, callers
 * coalesce per process only (resources/single-flight.ts). Used for threat-intel lookups and model requests.
 */
export interface SharedFlight<T> {
  /** Run fn for key unless a call for key is in flight here or elsewhere; `lookup` is where the answer also shows up. */
  do(key: string, fn: () => Promise<T>, options?: { lookup?: () => Promise<T | undefined> }): Promise<T>;
  /** Batch form: `run` gets the keys this instance leads; the others come from their leaders. */
  doMany(
    keys: readonly string[],
    run: (keys: string[]) => Promise<ReadonlyMap<string, T>>,
    options?: { lookup?: (keys: string[]) => Promise<ReadonlyMap<string, T>> },
  ): Promise<Map<string, T>>;
}

/** One SharedFlight per named use (e.g. per TI provider), typed by what that use shares. */
export type SharedFlightFactory = <T>(name: string) => SharedFlight<T>;
