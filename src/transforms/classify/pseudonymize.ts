/**
 * Prompt pseudonymisation (PSEUDONYMIZE=true). Before any model call, the identifiers of each alert — user, host,
 * e-mail addresses, private/internal IPs (public ones too with PSEUDONYMIZE_PUBLIC_IPS) and configured extra fields —
 * are replaced everywhere in the alert (structured fields and free text) by stable per-deployment tokens:
 * `user_` + the first hex digits of HMAC-SHA256(secret, kind:value). After the model, the tokens in the reasoning and
 * actions are mapped back, so published verdicts name the real values.
 *
 * It is a Classifier decorator placed inside the verdict cache/memory (their keys see the real alert, so they do not
 * depend on whether this is on) and outside the model classifier; it runs after threat-intel enrichment (the lookup
 * needs the real IP). Alert ids are sent as they are (answers are bound by id).
 */
import { createHmac } from "node:crypto";
import type { Alert } from "../../core/alert.js";
import type { Enrichment } from "../../core/enrichment.js";
import { classifyIp } from "../../core/ip.js";
import type { Classifier, EnrichedAlert } from "../../core/ports/index.js";
import type { Decision } from "../../core/verdict.js";
import { applyGuard, findInjection, type GuardOptions } from "./guard.js";

export type TokenKind = "user" | "host" | "email" | "ip" | "id";

export interface PseudonymizerOptions {
  /** HMAC key (PSEUDONYMIZE_SECRET, ≥ 32 characters). */
  secret: string;
  /** Tokenise public IPs too. */
  publicIps: boolean;
  /** Field names (any nesting level, case-insensitive) whose string values are tokenised. */
  extraFields: readonly string[];
}

/** Hex digits of the HMAC kept in a token: 32 bits, so a collision needs ~65k distinct values of one kind. */
const TOKEN_HEX = 8;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])/g;
const IPV6 = /(?<![:\w])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![:\w])/gi;
/** DNS suffixes that only exist inside organisations: any name under them is an internal host. */
const INTERNAL_SUFFIXES = ["local", "lan", "internal", "intranet", "corp", "localdomain", "home\\.arpa"];
const TOKEN_SHAPE = /\b(?:user|host|email|ip|id)_[0-9a-f]{8,64}\b/g;

/** The token kind of an extra field, from its name. */
export function kindOfField(name: string): TokenKind {
  const n = name.toLowerCase();
  if (/mail/.test(n)) return "email";
  if (/user|account|login|principal|owner|sam|upn/.test(n)) return "user";
  if (/host|computer|workstation|device|machine|fqdn|server/.test(n)) return "host";
  if (/(^|[_.-])(ip|addr|address)([_.-]|$)|_ip$|^ip/.test(n)) return "ip";
  return "id";
}

/** Stable keyed tokens and the per-batch map back to the real values. */
export class Pseudonymizer {
  private readonly extra: Map<string, TokenKind>;

  constructor(private readonly opts: PseudonymizerOptions) {
    this.extra = new Map(opts.extraFields.map((f) => [f.toLowerCase(), kindOfField(f)]));
  }

  /** The token of a value: same value (case-insensitive), same token, for this secret. */
  token(kind: TokenKind, value: string, hexDigits = TOKEN_HEX): string {
    const mac = createHmac("sha256", this.opts.secret).update(`${kind}:${value.trim().toLowerCase()}`).digest("hex");
    return `${kind}_${mac.slice(0, hexDigits)}`;
  }

  /** A session for one batch: tokens are consistent across its alerts, and the way back covers all of them. */
  session(): PseudonymSession {
    return new PseudonymSession(this, this.opts, this.extra);
  }
}

/** Replacements of one batch: real value → token and token → real value. */
export class PseudonymSession {
  private readonly toToken = new Map<string, string>();
  private readonly toReal = new Map<string, string>();
  /** Identifiers learnt from the batch's alerts (value, token). */
  private readonly known: [string, string][] = [];
  /** DNS suffixes of the batch's host FQDNs: other names under them are internal hosts too. */
  private readonly domains = new Set<string>();
  private replace: ((s: string) => string) | null = null;

  constructor(
    private readonly p: Pseudonymizer,
    private readonly opts: PseudonymizerOptions,
    private readonly extra: ReadonlyMap<string, TokenKind>,
  ) {}

  /** Register a value (with collision handling inside the batch); returns its token. */
  private add(kind: TokenKind, value: string): string {
    const key = `${kind}:${value.trim().toLowerCase()}`;
    const known = this.toToken.get(key);
    if (known) return known;
    let digits = TOKEN_HEX;
    let token = this.p.token(kind, value, digits);
    // Two values of one batch on the same truncated token: lengthen this one so the way back stays unambiguous.
    while (this.toReal.has(token) && digits < 64) {
      digits += 8;
      token = this.p.token(kind, value, digits);
    }
    this.toToken.set(key, token);
    this.toReal.set(token, value.trim());
    return token;
  }

  /** Whether an IP text is tokenised: private/internal always, public only with PSEUDONYMIZE_PUBLIC_IPS. */
  private tokenisesIp(text: string): boolean {
    const c = classifyIp(text);
    return c.kind === "non_public" || (c.kind === "public" && this.opts.publicIps);
  }

  /**
   * Register an alert's identifiers: user, host, tokenised IPs, extra fields. Every alert of the batch is learnt
   * before any is rewritten, so one alert's text naming another alert's user or host is covered too.
   */
  learn(item: EnrichedAlert): void {
    const a = item.alert;
    const remember = (kind: TokenKind, value: string | null | undefined) => {
      if (typeof value !== "string" || value.trim().length < 2) return;
      const v = value.trim();
      this.known.push([v, this.add(kind, v)]);
      // DOMAIN\user: the bare account name is the same person; a host FQDN's first label is the same machine.
      const bare =
        kind === "user"
          ? (/\\([^\\]+)$/.exec(v)?.[1] ?? null)
          : kind === "host" && v.includes(".") && classifyIp(v).kind === "invalid"
            ? v.split(".")[0]!
            : null;
      if (bare && bare.length >= 2) this.known.push([bare, this.add(kind, bare)]);
      if (kind === "host") {
        const domain = v.includes(".") ? v.slice(v.indexOf(".") + 1) : "";
        if (domain.includes(".") && classifyIp(v).kind === "invalid") this.domains.add(domain.toLowerCase());
      }
    };
    remember("user", a.user);
    remember("host", a.host);
    for (const ip of [a.source_ip, a.destination_ip, item.enrichment?.ip]) if (ip && this.tokenisesIp(ip)) remember("ip", ip);
    this.collectExtra(a.fields, remember, 0);
    this.replace = null;
  }

  /** Every alert pseudonymised, consistently across the batch. */
  pseudonymiseAll(items: readonly EnrichedAlert[]): EnrichedAlert[] {
    for (const item of items) this.learn(item);
    return items.map((item) => this.pseudonymise(item, false));
  }

  /** The alert as the model may see it (identifiers replaced everywhere), and the enrichment likewise. */
  pseudonymise(item: EnrichedAlert, learn = true): EnrichedAlert {
    if (learn) this.learn(item);
    this.replace ??= this.replacer(this.known);
    const replace = this.replace;
    const a = item.alert;
    const alert: Alert = {
      ...a,
      alert_name: replace(a.alert_name),
      source_ip: a.source_ip === null ? null : replace(a.source_ip),
      destination_ip: a.destination_ip === null ? null : replace(a.destination_ip),
      user: a.user === null ? null : replace(a.user),
      host: a.host === null ? null : replace(a.host),
      description: a.description === null ? null : replace(a.description),
      fields: this.walk(a.fields, replace, 0) as Record<string, unknown>,
      raw: undefined,
    };
    return { alert, enrichment: item.enrichment ? this.enrichment(item.enrichment, replace) : null };
  }

  private enrichment(e: Enrichment, replace: (s: string) => string): Enrichment {
    return { ...e, ip: e.ip === null ? null : replace(e.ip) };
  }

  /** Values of the configured extra fields, at any depth. */
  private collectExtra(node: unknown, remember: (kind: TokenKind, v: string) => void, depth: number): void {
    if (depth > 8 || node === null || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const kind = this.extra.get(k.toLowerCase());
      if (kind !== undefined) {
        if (typeof v === "string") remember(kind, v);
        else if (typeof v === "number") remember(kind, String(v));
        else if (Array.isArray(v)) for (const x of v) if (typeof x === "string") remember(kind, x);
      }
      if (v !== null && typeof v === "object") this.collectExtra(v, remember, depth + 1);
    }
  }

  private walk(node: unknown, replace: (s: string) => string, depth: number): unknown {
    if (typeof node === "string") return replace(node);
    if (depth > 16) return typeof node === "object" && node !== null ? "[nested]" : node;
    if (Array.isArray(node)) return node.map((x) => this.walk(x, replace, depth + 1));
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => {
          // A numeric extra field (an employee or asset number) becomes its token too.
          const kind = typeof v === "number" ? this.extra.get(k.toLowerCase()) : undefined;
          return [k, kind !== undefined ? this.add(kind, String(v)) : this.walk(v, replace, depth + 1)];
        }),
      );
    }
    return node;
  }

  /**
   * Replaces the alert's known identifiers (whole words, any case, longest first), then any other e-mail address
   * and tokenised IP in the text. Case-insensitive matching by regex, so no case-folding length issue leaves text as is.
   */
  private replacer(known: [string, string][]): (s: string) => string {
    const byLength = [...new Map(known.map(([v, t]) => [v.toLowerCase(), t])).entries()].sort((x, y) => y[0].length - x[0].length);
    const lookup = new Map(byLength);
    const re = byLength.length > 0 ? new RegExp(`(?<![\\p{L}\\p{N}_])(?:${byLength.map(([v]) => escapeRegex(v)).join("|")})(?![\\p{L}\\p{N}_])`, "giu") : null;
    const suffixes = [...INTERNAL_SUFFIXES, ...[...this.domains].map(escapeRegex)];
    const fqdn = new RegExp(
      `(?<![\\p{L}\\p{N}_.-])[a-z0-9][a-z0-9-]*(?:\\.[a-z0-9-]+)*\\.(?:${suffixes.join("|")})(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}])`,
      "giu",
    );
    return (s: string) => {
      let out = re ? s.replace(re, (m) => lookup.get(m.toLowerCase()) ?? m) : s;
      out = out.replace(EMAIL, (m) => this.add("email", m));
      if (fqdn) out = out.replace(fqdn, (m) => this.add("host", m));
      out = out.replace(IPV4, (m) => (this.tokenisesIp(m) ? this.add("ip", m) : m));
      out = out.replace(IPV6, (m) => (m.includes("::") || m.split(":").length >= 8 ? (this.tokenisesIp(m) ? this.add("ip", m) : m) : m));
      return out;
    };
  }

  /** Text with every token of this batch mapped back to its real value. */
  restore(text: string): string {
    return text.replace(TOKEN_SHAPE, (t) => this.toReal.get(t) ?? t);
  }

  /** Every real value this batch replaced (tests, leak scans). */
  get realValues(): string[] {
    return [...this.toReal.values()];
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Classifier decorator: the inner classifier (the model tiers) sees pseudonymised alerts; decisions come back with
 * tokens mapped to the real values, pass the guard again on the real alert (text the tokens hid from the model still
 * keeps an automatic false_positive away), and are not learnable when the real alert carries instruction-like text.
 */
export class PseudonymizingClassifier implements Classifier {
  readonly name: string;

  constructor(
    private readonly inner: Classifier,
    private readonly pseudonymizer: Pseudonymizer,
    private readonly guard: GuardOptions,
  ) {
    this.name = inner.name;
  }

  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    const session = this.pseudonymizer.session();
    const masked = session.pseudonymiseAll(items);
    const decisions = await this.inner.classify(masked);
    return decisions.map((d, i) => {
      const item = items[i]!;
      const restored: Decision = {
        ...d,
        reasoning: session.restore(d.reasoning).slice(0, 4000),
        recommended_actions: d.recommended_actions.map((x) => session.restore(x)),
        fallback_reason: d.fallback_reason === null ? null : session.restore(d.fallback_reason),
      };
      const guarded = applyGuard(item, restored, this.guard);
      return findInjection(item.alert, item.enrichment) !== null ? { ...guarded, learnable: false } : guarded;
    });
  }
}
