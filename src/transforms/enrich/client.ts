import type { ProviderName } from "./provider-error.js";

/** A threat-intel provider adapter: looks one IP up; throws ProviderError on any failure. */
export interface TiClient<T> {
  readonly provider: ProviderName;
  lookup(ip: string): Promise<T>;
}
