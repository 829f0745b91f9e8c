/** Threat-intel provider options (AbuseIPDB, VirusTotal). */
export const tiOptions = {} as const;
