import { normalizeSeverity, type Severity } from "../../../core/severity.js";
import { invalid, ok, type Invalid } from "../../../core/result.js";
import { asNumber, asText, isObject, textList } from "../fields.js";
import type { AlertDraft, AlertFormat } from "../format.js";
import { compileCondition, type Condition } from "./conditions.js";
import { compilePath, firstValue, MAX_FAN_OUT, type CompiledPath } from "./paths.js";
import type { ExtraSpec, FieldSpec, MappingSpec, SeveritySpec } from "./schema.js";
import { compileTemplate, isIpText, parseTime, renderValue, splitHostPort } from "./values.js";

type Doc = Record<string, unknown>;

interface Alternative {
  paths: CompiledPath[];
  /** Simple paths and no filter: read by plain lookups. */
  plain: boolean;
  ip: boolean;
  notIp: boolean;
  portTo: string | undefined;
  firstLine: boolean;
  when: Condition | undefined;
}

/** A format built from a mapping file. */
export interface MappedFormat extends AlertFormat {
  readonly order: number;
  /** Where it came from ("built-in" or the file path), for `triage formats check` and errors. */
  readonly origin: string;
}

/** Compile a validated mapping into a format; paths and conditions are parsed here, once. Throws on a bad path. */
export function compileMapping(spec: MappingSpec, origin: string): MappedFormat {
  const unwrap = (spec.unwrap ?? []).map((u) => ({ path: [compilePath(u.path)], when: u.when ? compileCondition(u.when) : undefined }));
  const detect = compileCondition(spec.detect);
  const rejects = (spec.reject ?? []).map((r) => ({ when: compileCondition(r.when), code: r.code, message: compileTemplate(r.message) }));
  const a = spec.alert;
  const name = alternatives(a.name);
  const nameMissing = a.name_missing ?? `${name.flatMap((alt) => alt.paths.map((p) => p.source)).join(" / ")} is missing or not text`;
  const core = {
    id: alternatives(a.id),
    source_ip: alternatives(a.source_ip),
    destination_ip: alternatives(a.destination_ip),
    user: alternatives(a.user),
    host: alternatives(a.host),
    time: alternatives(a.time),
    description: alternatives(a.description),
  };
  const severity = a.severity ? compileSeverity(a.severity) : () => ({ ok: true as const, value: "medium" as Severity });
  const extras = Object.entries(spec.fields ?? {}).map(([key, s]) => compileExtra(key, s));
  const coreHeads = new Set([name, ...Object.values(core)].flatMap((alts) => alts.flatMap((alt) => alt.paths.filter((p) => !p.fromRoot).map((p) => p.head))));
  if (a.severity) for (const source of a.severity.from) for (const p of list(source.path)) coreHeads.add(compilePath(p).head);

  const documentOf = (root: Doc): Doc => {
    if (unwrap.length === 0) return root;
    for (const u of unwrap) {
      if (u.when && !u.when.test(root, root)) continue;
      const v = firstValue(u.path, root, root);
      if (isObject(v)) return v;
    }
    return root;
  };

  return {
    name: spec.name,
    order: spec.order,
    origin,
    detect(root) {
      return detect.test(documentOf(root), root);
    },
    explain(root) {
      return detect.explain(documentOf(root), root);
    },
    normalize(root) {
      const doc = documentOf(root);
      for (const r of rejects) if (r.when.test(doc, root)) return invalid(r.code, r.message(doc, root));
      const fields: Doc = {};
      const alertName = readText(name, doc, root, 2048, fields);
      if (alertName === null) return invalid("missing_field", nameMissing);
      const sev = severity(doc, root);
      if (!sev.ok) return sev;
      for (const extra of extras) extra(doc, root, fields);
      const timeValue = readRaw(core.time, doc, root);
      const timestamp = parseTime(timeValue);
      const draft: AlertDraft = {
        alert_id: readText(core.id, doc, root, 512, fields),
        alert_name: alertName,
        severity: sev.value,
        source_ip: readText(core.source_ip, doc, root, 128, fields),
        destination_ip: readText(core.destination_ip, doc, root, 128, fields),
        user: readText(core.user, doc, root, 1024, fields),
        host: readText(core.host, doc, root, 1024, fields),
        timestamp,
        description: readText(core.description, doc, root, 65536, fields),
        fields,
      };
      if (spec.keep_rest) for (const key in doc) if (Object.hasOwn(doc, key) && !coreHeads.has(key) && !Object.hasOwn(fields, key)) fields[key] = doc[key];
      if (timestamp === null && timeValue !== undefined) fields.timestamp_raw = timeValue;
      if (spec.keep_raw) draft.raw = root;
      return ok(draft);
    },
  };
}

const list = (p: string | string[]): string[] => (typeof p === "string" ? [p] : p);

function alternatives(spec: FieldSpec | undefined): Alternative[] {
  if (spec === undefined) return [];
  const items = typeof spec === "string" ? [spec] : Array.isArray(spec) ? spec : [spec];
  // A list of plain paths is one alternative (first non-empty path wins); objects are alternatives of their own.
  const out: Alternative[] = [];
  let plain: string[] = [];
  const flush = () => {
    if (plain.length > 0) {
      const paths = plain.map(compilePath);
      out.push({ paths, plain: paths.every((p) => p.simple), ip: false, notIp: false, portTo: undefined, firstLine: false, when: undefined });
    }
    plain = [];
  };
  for (const item of items) {
    if (typeof item === "string") {
      plain.push(item);
      continue;
    }
    flush();
    out.push({
      paths: list(item.path).map(compilePath),
      plain: false,
      ip: item.ip === true,
      notIp: item.not_ip === true,
      portTo: item.port_to,
      firstLine: item.first_line === true,
      when: item.when ? compileCondition(item.when) : undefined,
    });
  }
  flush();
  return out;
}

/** First text (numbers as decimal text, arrays contribute their elements) that passes the alternative's filters. */
function readText(alts: readonly Alternative[], doc: Doc, root: Doc, max: number, fields: Doc): string | null {
  let result: string | null = null;
  for (const alt of alts) {
    if (alt.plain) {
      // No filters and single-key paths: plain lookups, no callbacks (the native format's whole mapping).
      for (const p of alt.paths) {
        const v = p.get(doc, root);
        if (v === undefined) continue;
        const text = Array.isArray(v) ? firstTextOf(v, max) : asText(v, max);
        if (text !== null) return text;
      }
      continue;
    }
    if (alt.when && !alt.when.test(doc, root)) continue;
    const accept = (v: unknown): boolean => {
      let text = asText(v, max);
      if (text === null) return false;
      if (alt.firstLine) {
        text = text.split(/\r?\n/, 1)[0]!.trim();
        if (text === "") return false;
      }
      if (alt.ip || alt.portTo !== undefined) {
        const { host, port } = splitHostPort(text);
        if (alt.ip && !isIpText(host)) return false;
        if (port !== null && alt.portTo !== undefined && !Object.hasOwn(fields, alt.portTo)) fields[alt.portTo] = port;
        text = host;
      }
      if (alt.notIp && isIpText(splitHostPort(text).host)) return false;
      result = text;
      return true;
    };
    const visit = (v: unknown): boolean => {
      if (!Array.isArray(v)) return accept(v);
      const n = Math.min(v.length, MAX_FAN_OUT);
      for (let i = 0; i < n; i++) if (accept(v[i])) return true;
      return false;
    };
    for (const p of alt.paths) if (p.visit(doc, root, visit)) return result;
  }
  return null;
}

/** First value (null skipped; an array stands for its first non-null element). */
function readRaw(alts: readonly Alternative[], doc: Doc, root: Doc): unknown {
  for (const alt of alts) {
    if (alt.when && !alt.when.test(doc, root)) continue;
    const v = firstValue(alt.paths, doc, root);
    if (v === undefined) continue;
    if (!Array.isArray(v)) return v;
    const item = v.find((x) => x !== null && x !== undefined);
    if (item !== undefined) return item;
  }
  return undefined;
}

type SeverityResult = { ok: true; value: Severity } | Invalid;

function compileSeverity(spec: SeveritySpec): (doc: Doc, root: Doc) => SeverityResult {
  const sources = spec.from.map((s) => {
    const table = s.table ? new Map(Object.entries(s.table).map(([k, v]) => [k.trim().toLowerCase(), v])) : undefined;
    const ignore = new Set((s.ignore ?? []).map((v) => String(v).trim().toLowerCase()));
    const expected = [
      table ? [...table.keys()].slice(0, 8).join("/") : null,
      s.bands ? `a number in ${s.bands.map((b) => `${b.min ?? (b.above !== undefined ? `>${b.above}` : "")}–${b.max ?? ""}`).join(", ")}` : null,
      s.words ? "a severity word or a 0–100 score" : null,
    ]
      .filter(Boolean)
      .join(" or ");
    return {
      paths: list(s.path).map(compilePath),
      table,
      bands: s.bands,
      words: s.words === true,
      ignore,
      integer: s.integer === true,
      lenient: s.lenient === true,
      when: s.when ? compileCondition(s.when) : undefined,
      expected,
    };
  });
  return (doc, root) => {
    let unmapped: { path: string; value: unknown; expected: string } | undefined;
    for (const s of sources) {
      if (s.when && !s.when.test(doc, root)) continue;
      let found: unknown;
      let from = "";
      for (const p of s.paths) {
        let v = p.get(doc, root);
        if (Array.isArray(v)) v = v.find((x) => x !== null && x !== undefined);
        if (v === undefined || v === null) continue;
        if (s.ignore.size > 0 && typeof v !== "object" && s.ignore.has(String(v).trim().toLowerCase())) continue;
        found = v;
        from = p.source;
        break;
      }
      if (found === undefined) continue;
      const mapped = mapSeverity(s, found);
      if (mapped) return { ok: true, value: mapped };
      if (!s.lenient) unmapped ??= { path: from, value: found, expected: s.expected };
    }
    if (unmapped && spec.unmapped === "invalid") {
      return invalid("invalid_field", `${unmapped.path} ${renderValue(unmapped.value)} is not a recognised severity (expected ${unmapped.expected})`);
    }
    return { ok: true, value: spec.default };
  };
}

function mapSeverity(
  s: { table: Map<string, Severity> | undefined; bands: SeveritySpec["from"][number]["bands"]; words: boolean; integer: boolean },
  value: unknown,
): Severity | undefined {
  if (typeof value === "object") return undefined;
  if (s.table) {
    const hit = s.table.get(String(value).trim().toLowerCase());
    if (hit) return hit;
  }
  if (s.bands) {
    const n = asNumber(value);
    if (n !== undefined && (!s.integer || Number.isInteger(n))) {
      for (const b of s.bands) {
        if (b.min !== undefined && n < b.min) continue;
        if (b.above !== undefined && n <= b.above) continue;
        if (b.max !== undefined && n > b.max) continue;
        return b.severity;
      }
    }
  }
  if (s.words) return normalizeSeverity(value);
  return undefined;
}

function compileExtra(key: string, spec: ExtraSpec): (doc: Doc, root: Doc, fields: Doc) => void {
  const s =
    typeof spec === "string" || Array.isArray(spec)
      ? { path: spec, type: "auto" as const, max: undefined, when: undefined, ip: undefined, not_ip: undefined }
      : spec;
  const paths = list(s.path).map(compilePath);
  const when = s.when ? compileCondition(s.when) : undefined;
  const max = s.max ?? 2048;
  const put = (fields: Doc, v: unknown) => {
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)) fields[key] = v;
  };
  return (doc, root, fields) => {
    if (when && !when.test(doc, root)) return;
    if (s.type === "list") {
      const values: unknown[] = [];
      for (const p of paths) p.visit(doc, root, (v) => (values.push(v), values.length >= MAX_FAN_OUT));
      put(fields, textList(values, 32));
      return;
    }
    if (s.ip || s.not_ip) {
      const want = s.ip === true;
      let hit: string | null = null;
      for (const p of paths)
        if (
          p.visit(doc, root, (v) => {
            const t = asText(v, max);
            if (t === null || isIpText(splitHostPort(t).host) !== want) return false;
            hit = t;
            return true;
          })
        )
          break;
      return put(fields, hit);
    }
    let v = firstValue(paths, doc, root);
    if (v === undefined) return;
    switch (s.type) {
      case "raw":
        return put(fields, v);
      case "number":
        if (Array.isArray(v)) v = v[0];
        return put(fields, asNumber(v));
      case "text":
        return put(fields, textOf(v, max));
      case "auto":
        if (typeof v === "string") return put(fields, asText(v, max));
        if (typeof v === "number") return put(fields, Number.isFinite(v) ? v : undefined);
        if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return put(fields, textList(v, 32));
        return put(fields, v);
    }
  };
}

function firstTextOf(v: readonly unknown[], max: number): string | null {
  const n = Math.min(v.length, MAX_FAN_OUT);
  for (let i = 0; i < n; i++) {
    const t = asText(v[i], max);
    if (t !== null) return t;
  }
  return null;
}

function textOf(v: unknown, max: number): string | null {
  if (!Array.isArray(v)) return asText(v, max);
  for (const item of v.slice(0, MAX_FAN_OUT)) {
    const t = asText(item, max);
    if (t !== null) return t;
  }
  return null;
}
