/** The threat-intel providers we call; also the `provider` metric label and cache-key prefix. */
export type ProviderName = "abuseipdb" | "virustotal";

/** A threat-intel provider adapter: looks one IP up; throws ProviderError on any failure. */
export interface TiClient<T> {
  readonly provider: ProviderName;
  lookup(ip: string): Promise<T>;
}
