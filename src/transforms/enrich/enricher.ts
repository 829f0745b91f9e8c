import type { Alert } from "../../core/alert.js";
import type { AbuseIpDbData, Enrichment, ProviderResult, VirusTotalData } from "../../core/enrichment.js";
import type { EnrichedAlert, Enricher } from "../../core/ports/index.js";
import { chooseLookupTarget } from "./target-ip.js";

/** What the enricher needs from a provider: a result for a public IP, never an exception. */
export interface IpLookup<T> {
  lookup(ip: string): Promise<ProviderResult<T>>;
}

/** The configured providers; null = disabled (no API key). */
export interface ThreatIntelProviders {
  abuseipdb: IpLookup<AbuseIpDbData> | null;
  virustotal: IpLookup<VirusTotalData> | null;
}

type Pair = Pick<Enrichment, "abuseipdb" | "virustotal">;

/**
 * Adds AbuseIPDB and VirusTotal intel to each alert of a batch: every distinct public IP is looked up once
 * per batch, at both providers independently, so one provider failing never holds back the other.
 */
export class ThreatIntelEnricher implements Enricher {
  constructor(private readonly providers: ThreatIntelProviders) {}

  async enrich(alerts: readonly Alert[]): Promise<EnrichedAlert[]> {
    const targets = alerts.map(chooseLookupTarget);
    const byIp = new Map<string, Promise<Pair>>();
    for (const t of targets) if (t.lookup && !byIp.has(t.ip)) byIp.set(t.ip, this.lookupBoth(t.ip));
    const results = new Map<string, Pair>();
    await Promise.all([...byIp].map(async ([ip, pair]) => results.set(ip, await pair)));
    return alerts.map((alert, i) => {
      const t = targets[i]!;
      const pair = t.lookup ? results.get(t.ip)! : this.notLookedUp(t.reason);
      return { alert, enrichment: { ip: t.ip, ip_role: t.role, ...pair } };
    });
  }

  private async lookupBoth(ip: string): Promise<Pair> {
    const [abuseipdb, virustotal] = await Promise.all([
      safeLookup(this.providers.abuseipdb, ip, "abuseipdb"),
      safeLookup(this.providers.virustotal, ip, "virustotal"),
    ]);
    return { abuseipdb, virustotal };
  }

  private notLookedUp(reason: "private" | "invalid" | "no_ip"): Pair {
    return {
      abuseipdb: this.providers.abuseipdb ? { status: "skipped", skipped: reason } : { status: "skipped", skipped: "disabled" },
      virustotal: this.providers.virustotal ? { status: "skipped", skipped: reason } : { status: "skipped", skipped: "disabled" },
    };
  }
}

/** A disabled provider is `skipped: disabled`; a lookup that breaks its contract still yields a value. */
async function safeLookup<T>(provider: IpLookup<T> | null, ip: string, name: string): Promise<ProviderResult<T>> {
  if (!provider) return { status: "skipped", skipped: "disabled" };
  try {
    return await provider.lookup(ip);
  } catch (err) {
    return { status: "error", code: `${name}_internal`, message: err instanceof Error ? err.message : String(err) };
  }
}
