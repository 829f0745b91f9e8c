/**
 * One rule's decision tree (pure), rebuilt from the rule's labelled examples: start with one leaf; while a leaf's
 * answers disagree, split it on a feature test — `feature >= threshold` or `feature = value`. The feature is chosen
 * by bias-corrected gain: each feature's most informative test, scored by the bits it saves minus its MDL cost
 * (which of the feature's candidate tests it is, and the sides' label sets — Fayyad & Irani's criterion), so a
 * noisy number or an id-like code with many candidate tests does not win by separating a few answers by luck.
 * A split that pays for itself is *proven*; one taken only because the answers disagree (too few to tell cause
 * from chance) still routes alerts. Threat intel is evidence about the source: its gain counts once per source
 * network. Which free field a split is on is steered by a prior from the rule's siblings (the other rules of its
 * input format with a proven split): a field that decides in most of them is chosen first, one that decides in none
 * must separate better (featureCost); whether a split is proven stays the plain criterion's. The tree is a function
 * of its example set and of the siblings held when it was built: instances that share examples (Redis) may choose
 * differently between equally good splits until a rule is rebuilt, never on whether a leaf may answer by a weaker
 * rule. Merging two memories is a union of examples.
 *
 * A leaf answers an alert only when
 *   - its examples agree (a disagreement that no test separates retires the leaf: it answers nothing),
 *   - it holds enough model answers (more for false_positive, from several source IPs: a leaf taught only by one
 *     source — possibly the attacker — never dismisses anyone else's alert),
 *   - the alert lies inside what has been seen: a deciding feature by the leaf's own examples (numbers within the
 *     seen range, stretched by a share of its width — of its orders of magnitude for a long-tailed positive
 *     number —, less for false_positive, never into the gap of a split, and for false_positive toward a split only
 *     as far as its own examples); the user class, the asset role and ti.strong by the leaf's own examples too, split
 *     on or not; for false_positive the guard's measures of the source by its own model answers' range (no stretch),
 *     and each deciding feature by what its model answers had on the alert's host role (roleRanges; a number stretched
 *     as little as any dismissal's once the role decides), and a feature FAMILY_MIN_RULES siblings decide on by its own
 *     answers whatever its type; for needs_review with strong sources among its answers, a weak source by the cells of
 *     its weak sources' answers (weakSources); any other number (and, except under a
 *     false_positive leaf, a number that decides only in another branch) by the rule's examples with the leaf's
 *     answer and, loosely, by the leaf's own (a leaf taught by one source's reputation does not dismiss for
 *     another's); a categorical feature that decides in FAMILY_MIN_RULES sibling rules by the leaf's own examples too; the
 *     source's class and threat-intel status by the leaf's own for false_positive, the rule's otherwise; any other
 *     categorical value by the rule's examples — unless the feature is open: mostly one-off
 *     values (name-like; never split on either) or, with no split testing it, many distinct values already (a new
 *     one is no news; for false_positive only when near a value the leaf saw), and
 *   - every pair of its cells of the proven deciding features was seen among its model answers (pairwise
 *     coverage; threat intel only under a false_positive leaf): a leaf right for "privileged user on a dc" and
 *     "ordinary user on a server" has not seen "ordinary user on a dc". Pairs rather than the full product: the full product multiplies the cells every leaf must
 *     learn with each split anywhere in the rule.
 * Ties between splits go to features that already decide, then to structured features (identity, addresses, TI)
 * before free fields: fewer deciding features, fewer cells to learn.
 * Otherwise the alert is asked, and the answer becomes an example.
 */
import type { Classification } from "../../../core/verdict.js";
import { MISSING, STRONG_INTEL, type FeatureValue } from "./features.js";

/** One model answer (or analyst override) the memory learnt from. */
export interface Example {
  /** Unique per learnt answer (merging memories dedupes on it). */
  id: string;
  /** `classification|severity`: the answer two alerts must share to agree. */
  label: string;
  values: Record<string, FeatureValue>;
  /** Source network of the alert (IPv4 /24, IPv6 /48), for source diversity; null when none or unparseable (never counts). */
  source: string | null;
  /** Epoch ms when learnt. */
  at: number;
  /** model = a model answer; override = an analyst's label (evidence only: never support for reuse). */
  by: "model" | "override";
}

export interface TreePolicy {
  minSupport: number;
  minSupportFalsePositive: number;
  minSourcesFalsePositive: number;
  maxDepth: number;
}

type Test = { feature: string; op: ">="; threshold: number; below: number; atOrAbove: number } | { feature: string; op: "="; value: string };

type Node = { kind: "leaf"; id: string; examples: Example[] } | { kind: "split"; test: Test; yes: Node; no: Node };

/** Why an alert is asked instead of answered (a bounded metric label). */
export type AskReason =
  | "critical"
  | "unverified"
  | "empty"
  | "support"
  | "sources"
  | "disagreement"
  | "unseen_value"
  | "unseen_combination"
  | "out_of_range"
  | "no_answer"
  | "weak_intel"
  | "burst";

export type Lookup =
  | { kind: "answer"; leaf: string; label: string; support: number; conditions: string[] }
  | {
      kind: "ask";
      leaf: string;
      reason: AskReason;
      /** Model answers this leaf still needs before it may answer. */
      needed: number;
      /** The feature that lies outside what the leaf has seen (unseen_value, out_of_range), for diagnostics. */
      feature?: string;
      /** The features that check looked at (one, or the two of a pair): alerts held back by the same check learn the same thing. */
      on?: readonly string[];
      /** The leaf's answer when one check held it back (diagnostics: how often the model's answer refutes that check). */
      label?: string;
      /** For a dismissal leaf short of support: whether the alert lies inside what its answers so far cover. */
      covered?: boolean;
    };

/** Why an alert lies outside what a leaf covers: the check, its feature as shown (diagnostics), the features it looked at. */
type Uncovered = { reason: AskReason; feature: string; on: readonly string[] };

/** Numbers may be reused a little beyond the leaf's seen range: this share of its width (false_positive: less). */
const STRETCH = 0.5;
const STRETCH_FALSE_POSITIVE = 0.1;
/** A number no split tests, against the leaf's own examples: this many widths of their range beyond it. */
const STRETCH_OWN = 3;
/** A text under a false_positive leaf may hold one word the leaf never saw in that field only among this many tokens. */
const NEAR_MIN_TOKENS_FOR_NEW = 5;
/** A number >= 1 whose seen values span this ratio (two orders of magnitude) is stretched on a log scale... */
const LOG_SPAN = 100;
/** ...by at most this factor beyond the seen range (an order of magnitude). */
const LOG_MAX_FACTOR = 10;
/**
 * The loose check of a number no split tests against the leaf's own answers reaches two orders of magnitude for a
 * non-dismissal: bytes or record counts spread over six orders would otherwise be asked in every leaf for each new
 * order (on generator B, 60 asks per 10,000 alerts, 4 of them answered otherwise). A dismissal keeps one.
 */
const LOG_MAX_FACTOR_OWN = 100;
/** A categorical feature whose values in a leaf are mostly one-offs is name-like: new values are expected. */
const OPEN_MIN_EXAMPLES = 4;
const OPEN_SINGLETON_SHARE = 0.5;
/**
 * A categorical feature no split of the rule tests is open too once the rule has seen this many distinct values of
 * it: many values and none of them ever told two answers apart, so one more is no reason to ask (a share path, a
 * tag, a templated text). A feature with few values (a role, a class) stays closed: a new one is asked. Not for a
 * false_positive answer: a never-seen process image or share is no reason to dismiss (only name-like ones are).
 */
const OPEN_MIN_VALUES = 12;
/** Model answers in the alert's cell of the deciding features a leaf needs (false_positive: more). */
const JOINT_SUPPORT = 1;
const JOINT_SUPPORT_FALSE_POSITIVE = 1;

export function labelOf(classification: Classification, severity: string): string {
  return `${classification}|${severity}`;
}

/**
 * The label of an answer the guard raised for the source's threat intel: its own class, never mixed with the model's
 * false_positive answers (which a dismissal leaf must hold alone) nor with its needs_review ones. A leaf of this
 * label answers only an alert the guard raises again.
 */
export function refusedLabelOf(severity: string): string {
  return `${labelOf("needs_review", severity)}|${REFUSED}`;
}

export function isRefusedLabel(label: string): boolean {
  return label.endsWith(`|${REFUSED}`);
}

const REFUSED = "refused";

/** The severity part of a label. */
export function severityOf(label: string): string {
  return label.split("|")[1] ?? "";
}

export function classificationOf(label: string): Classification {
  return label.slice(0, label.indexOf("|")) as Classification;
}

export class RuleTree {
  private readonly root: Node;
  readonly leaves: number;
  /** Features some split of this rule tests, with the thresholds of numeric ones: they decide, so they must match jointly. */
  private readonly deciding = new Set<string>();
  /** Per leaf and per label, built on first use. */
  private readonly envelopes = new Map<string, Envelope>();
  private readonly combinations = new Map<string, Combinations>();
  /**
   * Deciding features with at least one split that paid for itself (MDL): only their combinations must be seen
   * jointly. A split taken only because a leaf's answers disagreed (too few to tell cause from chance) still routes
   * alerts and judges them by the leaf's own examples, but does not make every other leaf learn its cells.
   */
  private readonly proven = new Map<string, number[]>();
  private readonly pairs = new Map<boolean, string[]>();
  private roleFeatures: string[] | undefined;
  /** Name-like features of the rule (mostly one-off values). */
  private readonly open: ReadonlySet<string>;

  constructor(
    readonly examples: readonly Example[],
    private readonly policy: TreePolicy,
    private readonly family: Family = NO_FAMILY,
  ) {
    let leaves = 0;
    const open = nameLike(examples);
    this.open = open;
    const build = (exs: Example[], depth: number, id: string): Node => {
      const found = depth < policy.maxDepth && !pure(exs) ? bestSplit(exs, open, this.deciding, family) : null;
      if (!found) {
        leaves++;
        return { kind: "leaf", id, examples: exs };
      }
      const test = found.test;
      this.deciding.add(test.feature);
      if (found.pays) {
        const paid = this.proven.get(test.feature) ?? [];
        if (test.op === ">=") paid.push(test.threshold);
        this.proven.set(test.feature, paid);
      }
      const yes: Example[] = [];
      const no: Example[] = [];
      for (const e of exs) (passes(test, e.values[test.feature]) ? yes : no).push(e);
      return { kind: "split", test, yes: build(yes, depth + 1, `${id}1`), no: build(no, depth + 1, `${id}0`) };
    };
    this.root = build([...examples], 0, "r");
    this.leaves = leaves;
    for (const cuts of this.proven.values()) cuts.sort((a, b) => a - b);
  }

  /** Features with a split that paid for itself (what the family prior of the rule's siblings counts). */
  provenFeatures(): Iterable<string> {
    return this.proven.keys();
  }

  /** The tree as indented text (diagnostics): each split's test, each leaf's label counts. */
  describe(): string {
    const lines: string[] = [];
    const walk = (node: Node, indent: string, edge: string): void => {
      if (node.kind === "leaf") {
        const t = [...tally(node.examples)].map(([l, c]) => `${l}:${c}`).join(" ");
        lines.push(`${indent}${edge}leaf ${node.id} [${t}]`);
        return;
      }
      const t = node.test;
      const cond = t.op === ">=" ? `${t.feature} >= ${fmt(t.threshold)}` : `${t.feature} = ${t.value}`;
      lines.push(`${indent}${edge}${cond}${this.proven.has(t.feature) ? " (proven)" : ""}`);
      walk(node.yes, `${indent}  `, "yes: ");
      walk(node.no, `${indent}  `, "no:  ");
    };
    walk(this.root, "", "");
    return lines.join("\n");
  }

  /** Answer or ask for an alert's features. */
  lookup(values: Readonly<Record<string, FeatureValue>>): Lookup {
    const bounds = new Map<string, { lo: number; hi: number }>();
    const path: Test[] = [];
    const yesOf: boolean[] = [];
    let node = this.root;
    while (node.kind === "split") {
      const t = node.test;
      const yes = passes(t, values[t.feature]);
      if (t.op === ">=") {
        const b = bounds.get(t.feature) ?? { lo: -Infinity, hi: Infinity };
        // Values between the two sides' nearest examples are unknown ground: neither side covers them.
        if (yes) b.lo = Math.max(b.lo, t.atOrAbove);
        else b.hi = Math.min(b.hi, t.below);
        bounds.set(t.feature, b);
      }
      path.push(t);
      yesOf.push(yes);
      node = yes ? node.yes : node.no;
    }
    const leaf = node;
    const exs = leaf.examples;
    const p = this.policy;
    if (exs.length === 0) return { kind: "ask", leaf: leaf.id, reason: "empty", needed: p.minSupport };
    if (!pure(exs)) return { kind: "ask", leaf: leaf.id, reason: "disagreement", needed: 1 };
    const label = exs[0]!.label;
    const models = exs.filter((e) => e.by === "model");
    const fp = classificationOf(label) === "false_positive";
    const need = fp ? p.minSupportFalsePositive : p.minSupport;
    const onPath = new Set(path.map((t) => t.feature));
    if (models.length < need) {
      if (!fp) return { kind: "ask", leaf: leaf.id, reason: "support", label, needed: need - models.length };
      // Whether the alert lies inside what the dismissal leaf has seen so far: only then may it wait for the leaf's next
      // answers in a late single-flight round (else it would be dismissed by a range the same burst widened).
      const covered =
        this.coverage(leaf, label, values, bounds, fp, onPath) === null &&
        this.roleRanges(leaf, values) === null &&
        this.combinationsOf(leaf.id, models, fp).unseen(this.cellsOf(values, fp)) === null;
      return { kind: "ask", leaf: leaf.id, reason: "support", label, needed: need - models.length, covered };
    }
    if (fp) {
      // Networks, not addresses (one attacker rotates through a prefix); no or an unparseable source never counts.
      const sources = new Set(models.flatMap((e) => (e.source === null ? [] : [e.source]))).size;
      if (sources < p.minSourcesFalsePositive) return { kind: "ask", leaf: leaf.id, reason: "sources", label, needed: 1 };
    }
    const uncovered =
      this.coverage(leaf, label, values, bounds, fp, onPath) ??
      (fp ? this.roleRanges(leaf, values) : classificationOf(label) === "needs_review" ? this.weakSources(leaf, values) : null);
    if (uncovered) return { kind: "ask", leaf: leaf.id, label, needed: 1, ...uncovered };
    // The deciding features in combination: a leaf that is right for (privileged, dc) and for (ordinary user, server)
    // has not seen (ordinary user, dc) even when it has seen each value on its own.
    const pairs = this.combinationsOf(leaf.id, models, fp);
    const unseenPair = pairs.unseen(this.cellsOf(values, fp));
    if (unseenPair !== null)
      return {
        kind: "ask",
        leaf: leaf.id,
        reason: "unseen_combination",
        label,
        needed: 1,
        feature: unseenPair.map((i) => this.pairFeatures(fp)[i]).join(" x "),
        on: unseenPair.map((i) => this.pairFeatures(fp)[i]!),
      };
    return { kind: "answer", leaf: leaf.id, label, support: models.length, conditions: conditionsOf(path, yesOf, exs, fp, models, values) };
  }

  /**
   * Why the alert lies outside what the leaf has seen, or null. A deciding feature is judged by the leaf's own
   * examples. Any other feature has never separated two answers of this rule, so it need not be re-learnt in every
   * leaf: a number by every example of the rule with the leaf's answer (a count no answer of this kind came with is
   * still asked: that is how a threshold is found), a categorical value by every example of the rule.
   * A number that decides elsewhere in the rule but is not tested on this leaf's path is, for an answer other than
   * false_positive, judged like a number that never decided: another branch's threshold says nothing about this
   * leaf's region, and re-learning its extent in every leaf is most of what the memory would ask. A false_positive
   * leaf still judges it by its own examples (a dismissal is never stretched over another branch's evidence).
   */
  private coverage(
    leaf: Extract<Node, { kind: "leaf" }>,
    label: string,
    values: Readonly<Record<string, FeatureValue>>,
    bounds: ReadonlyMap<string, { lo: number; hi: number }>,
    fp: boolean,
    onPath: ReadonlySet<string>,
  ): Uncovered | null {
    const stretch = fp ? STRETCH_FALSE_POSITIVE : STRETCH;
    const own = this.envelopeOf(leaf.id, leaf.examples);
    // A dismissal's reach over the source (its reputation, its class and intel status) and over who and where is its
    // model answers' alone: an analyst's override is evidence about one alert, never support for reusing an answer on
    // others (review-strong-fixes.test.ts: an override with a failed lookup let every failed lookup be dismissed).
    const ownModels = fp ? this.envelopeOf(`${leaf.id}|model`, () => leaf.examples.filter((e) => e.by === "model")) : own;
    const same = this.envelopeOf(`label:${label}`, () => this.examples.filter((e) => e.label === label));
    const features = new Set<string>([...Object.keys(values), ...own.features()]);
    for (const f of features) {
      const v = values[f] ?? MISSING;
      // Strong intel only ever makes an answer more severe: a true_positive or needs_review learnt on weak sources also
      // holds for a strong one (a dismissal never does: the guard and GUARD_MEASURES); the converse is what is checked.
      if (f === STRONG_INTEL && !fp && v === "yes") continue;
      // A dismissal's reach over the guard's own measures of the source is its own sources' (GUARD_MEASURES).
      const guardMeasure = fp && typeof v === "number" && GUARD_MEASURES.has(f);
      const deciding =
        (this.deciding.has(f) && (typeof v !== "number" || fp || onPath.has(f))) ||
        this.decidesInFamily(f, v) ||
        guardMeasure ||
        // A feature that decides in FAMILY_MIN_RULES siblings, under a dismissal: by the leaf's own answers, as if this
        // rule had split on it, whatever its type or openness here (a file count its siblings' thresholds turn on is no
        // noise field to stretch three widths over; sent only as text, "5000e0" is no neighbour of "3e0":
        // review-family-weak.test.ts).
        (fp && !perSource(f) && !IDENTITY_CLASSES.has(f) && this.familyProves(f));
      const rule = this.envelopeOf("rule", this.examples);
      // The source's class and threat-intel status (public/private, a country, "no data: private"): for a dismissal
      // only what the leaf's own answers had — a dismissal learnt on outside sources says nothing about an internal
      // host —, for any other answer what the rule had (like the source's reputation, it needs no answer from this leaf).
      const sourceStatus = perSource(f) && typeof v === "string" && !IDENTITY_CLASSES.has(f);
      const env =
        guardMeasure || IDENTITY_CLASSES.has(f) ? ownModels : sourceStatus ? (fp ? ownModels : rule) : deciding ? own : typeof v === "number" ? same : rule;
      // Against the leaf's own answers a categorical value must be one of theirs: four answers that each had another
      // code do not make a closed feature open (review-coverage.test.ts).
      const why = env.check(f, v, guardMeasure ? 0 : stretch, {
        bound: bounds.get(f),
        manyValuedOpen: !deciding && !fp,
        strict: env === own || env === ownModels,
        ownReach: fp,
      });
      // For a dismissal, a many-valued feature is open only by the leaf's own values (answers of another label —
      // perhaps an attacker's honestly answered probes — never open it) and only for a value near them.
      const mine = perSource(f) ? ownModels : own;
      const openForFp =
        fp && why === "unseen_value" && !deciding && typeof v === "string" && mine.distinct(f) >= OPEN_MIN_VALUES && mine.near(f, v, this.open.has(f));
      if (why && !openForFp) return { reason: why, feature: f, on: [f] };
      // An open feature (one-off texts, many-valued strings) lets a new value through — but not into a dismissal:
      // the model read that text and the memory did not. For false_positive a value the rule never had must be
      // close to what this leaf saw (a word, and every token of it among the leaf's: Envelope.near).
      if (fp && typeof v === "string" && !rule.has(f, v) && !mine.near(f, v, this.open.has(f))) return { reason: "unseen_value", feature: f, on: [f] };
      // ...and, loosely, by the leaf's own examples: a leaf taught by one region of a number (one source's
      // reputation, the hours of one shift) does not answer far outside it just because the rule saw such values.
      // For the source's reputation that holds for dismissals only: a true_positive or needs_review answer for a
      // source the leaf has not met is no dismissal (and each new source would otherwise be asked once per leaf).
      if (!deciding && typeof v === "number" && (fp || !perSource(f))) {
        const far = own.check(f, v, STRETCH_OWN, { logMax: fp ? LOG_MAX_FACTOR : LOG_MAX_FACTOR_OWN });
        if (far) return { reason: far, feature: `${f} (own)`, on: [f] };
      }
    }
    return null;
  }

  /**
   * For a dismissal: whether each number that decides — in this rule (a proven split) or in FAMILY_MIN_RULES siblings —
   * lies within what the leaf's answers had *on the alert's host role* (stretched by ROLE_STRETCH of that range).
   * A dismissal leaf taught by off-hours access on kiosks and working-hours access on servers has seen both the hour
   * and the role, but not 3 a.m. on a server: the leaf's own range of the hour says nothing about that (generator C:
   * most of its wrong dismissals before this check). Pairs of the proven features (Combinations) miss it while no
   * split of this rule has proven the hour yet. Only the host role: the user class, checked the same way, bought
   * nothing on any generator and cost asks. Stretched by ROLE_STRETCH of the role's range, or, where the role is
   * known to decide (this rule or FAMILY_MIN_RULES siblings proved it), as little as any dismissal
   * (STRETCH_FALSE_POSITIVE): half of generator C's wrong dismissals had been stretched past the kind's end of the
   * working day from one role's range. Not this rule's proof alone: three benign probes with the hour as text un-prove
   * it (review-role-stretch.test.ts).
   */
  private roleRanges(leaf: Extract<Node, { kind: "leaf" }>, values: Readonly<Record<string, FeatureValue>>): Uncovered | null {
    const role = values[ROLE];
    if (typeof role !== "string") return null;
    const onRole = this.envelopeOf(`${leaf.id}|${ROLE}=${role}`, () => leaf.examples.filter((e) => e.by === "model" && e.values[ROLE] === role));
    if (onRole.n === 0) return null; // the role itself is unseen: coverage asks for it (IDENTITY_CLASSES)
    // Every feature that decides but who and where (the pairs check those), whether the alert carries it as a number,
    // as text ("3e0") or not at all: a value that is no number must be one the role's own answers had
    // (review-role-stretch.test.ts, review-family-weak.test.ts: an hour the rule only ever saw as text).
    const stretch = this.decides(ROLE) ? STRETCH_FALSE_POSITIVE : ROLE_STRETCH;
    for (const g of new Set([...this.roleChecked(), ...Object.keys(values)])) {
      const x = values[g] ?? MISSING;
      if (perSource(g) || IDENTITY_CLASSES.has(g) || !this.decides(g)) continue;
      // The role's answers all lacked it too (an envelope counts a missing feature only beside examples that had it).
      if (x === MISSING && !onRole.numeric(g) && onRole.distinct(g) === 0) continue;
      if (onRole.check(g, x, stretch, { strict: true })) return { reason: "unseen_combination", feature: `${ROLE} x ${g}`, on: [ROLE, g] };
    }
    return null;
  }

  /** The rule's features roleRanges checks on every dismissal: those that decide, found once per tree. */
  private roleChecked(): readonly string[] {
    if (!this.roleFeatures) {
      const rule = this.envelopeOf("rule", this.examples);
      this.roleFeatures = [...rule.features()].filter((g) => !perSource(g) && !IDENTITY_CLASSES.has(g) && this.decides(g));
    }
    return this.roleFeatures;
  }

  /**
   * For a needs_review answer to a source without strong intel (or without intel at all): whether the leaf's answers
   * for sources of that status had the alert's host role and user class together. Strong intel turns a dismissal into
   * needs_review (the guard, the prompt), so a needs_review leaf may hold the strong sources of a cell whose weak ones
   * are dismissed: it has seen the workstation (from a strong source) and weak sources (on a dc), never a weak source
   * on a workstation. Pairs of the proven features leave the source's intel out for these answers, and ti.strong need
   * not be proven at all. Generator B, 8 seeds (bench:memory, with the family's numbers under dismissals): one such
   * leaf answered 83 times wrongly on a seed; with this check's first form (role and class apart, any answer but a
   * dismissal) B's worst memory-answer agreement 98.80 → 99.34 %, C's 99.01 → 99.29 %.
   */
  private weakSources(leaf: Extract<Node, { kind: "leaf" }>, values: Readonly<Record<string, FeatureValue>>): Uncovered | null {
    // Weak is anything but strong, an alert without the feature (no enrichment) too, judged by answers of the same status.
    const status = values[STRONG_INTEL];
    if (status === "yes") return null;
    const models = leaf.examples.filter((e) => e.by === "model");
    if (!models.some((e) => e.values[STRONG_INTEL] === "yes")) return null;
    // The cell itself, role and class together (review-family-weak.test.ts: each seen apart is not the cell).
    const cell = (e: Example) => WEAK_PAIRED.every((c) => (e.values[c] ?? MISSING) === (values[c] ?? MISSING));
    if (models.some((e) => e.values[STRONG_INTEL] === status && cell(e))) return null;
    return { reason: "unseen_combination", feature: `${STRONG_INTEL} x ${WEAK_PAIRED.join(" x ")}`, on: [STRONG_INTEL, ...WEAK_PAIRED] };
  }

  /**
   * Whether a categorical feature this rule has not split on yet decides in FAMILY_MIN_RULES of its siblings (a
   * proven split in each; a count, not a share, so that invented siblings proven on other fields cannot dilute it —
   * review-strong-fixes.test.ts): then a leaf's answer covers only the values its own answers had
   * (a host role, a user class), not every value the rule saw — a leaf taught on servers does not answer for a
   * workstation just because no split of this rule tested the role yet. It only adds checks: a flood of sibling rules
   * makes the memory ask more, never less. Not for name-like features, nor the source's status (coverage, above).
   */
  private decidesInFamily(f: string, v: FeatureValue): boolean {
    if (typeof v !== "string") return false;
    // Before the name-like test: a handful of probes, each on a host of another role, must not open the role.
    if (IDENTITY_CLASSES.has(f)) return true;
    if (perSource(f)) return false;
    if (this.open.has(f)) return false;
    return this.familyProves(f);
  }

  /** Whether f has a proven split in this rule or in FAMILY_MIN_RULES of its siblings. */
  private decides(f: string): boolean {
    return this.proven.has(f) || this.familyProves(f);
  }

  /**
   * Whether FAMILY_MIN_RULES sibling rules have a proven split on f: an absolute count of siblings, not a share, so
   * that invented sibling rules proven on other fields cannot dilute it (review-strong-fixes.test.ts).
   */
  private familyProves(f: string): boolean {
    return (this.family.proven.get(f) ?? 0) >= FAMILY_MIN_RULES;
  }

  private envelopeOf(id: string, exs: readonly Example[] | (() => readonly Example[])): Envelope {
    let e = this.envelopes.get(id);
    if (!e) {
      e = new Envelope(typeof exs === "function" ? exs() : exs);
      this.envelopes.set(id, e);
    }
    return e;
  }

  /**
   * The proven deciding features whose combinations a leaf must have seen: all of them for a false_positive leaf;
   * for another answer, not the source's threat intel (its extremes are the guard's, applied to every reused answer;
   * in between, pairing each new source's reputation with every other feature is what most pairs would cost).
   * Also a feature FAMILY_MIN_RULES siblings have proven that this rule has not (not the source's, not a name-like
   * one): a rule whose first answers all agreed has no split yet, so without it a root leaf that had seen a
   * privileged user on a workstation and an ordinary user on a server answered for an ordinary user on a workstation
   * — the cell where generator B's verdict flips (8 seeds: B's worst memory-answer agreement 98.53 → 99.27 %, mean
   * 99.48 → 99.76 %, +1.4 asks per 1,000). Only a categorical feature this rule has seen with two values or more (a
   * number this rule has no threshold of is one cell; a feature it never saw, or saw one value of, pairs nothing: a
   * new value is asked by itself), and at most MAX_FAMILY_PAIRS of them: the user class and host role first, then
   * those most siblings proved — sibling rules and field names are the attacker's, and pairs cost the square of
   * their number (review-novelty.test.ts); junk fields proved by invented siblings must not push the identity
   * classes out (review-novelty-fixes.test.ts).
   */
  private pairFeatures(fp: boolean): readonly string[] {
    let fs = this.pairs.get(fp);
    if (!fs) {
      fs = [...this.proven.keys()].filter((f) => fp || !perSource(f));
      const rule = this.envelopeOf("rule", this.examples);
      const family = [...this.family.proven]
        .filter(([f]) => !this.proven.has(f) && !perSource(f) && !this.open.has(f) && this.familyProves(f) && !rule.numeric(f) && rule.distinct(f) >= 2)
        .sort((a, b) => Number(IDENTITY_CLASSES.has(b[0])) - Number(IDENTITY_CLASSES.has(a[0])) || b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (const [f] of family.slice(0, MAX_FAMILY_PAIRS)) fs.push(f);
      this.pairs.set(fp, fs);
    }
    return fs;
  }

  /** The alert's cell of each pair feature, in the rule's feature order: its value, or for numbers the interval between proven thresholds. */
  private cellsOf(v: Readonly<Record<string, FeatureValue>>, fp: boolean): string[] {
    const out: string[] = [];
    for (const f of this.pairFeatures(fp)) {
      const cuts = this.proven.get(f) ?? [];
      const x = v[f] ?? MISSING;
      out.push(typeof x === "number" ? `#${cuts.length > 0 ? cellOf(x, cuts) : 0}` : `=${x}`);
    }
    return out;
  }

  private combinationsOf(leaf: string, models: readonly Example[], fp: boolean): Combinations {
    let c = this.combinations.get(leaf);
    if (!c) {
      c = new Combinations(
        models.map((e) => this.cellsOf(e.values, fp)),
        fp ? JOINT_SUPPORT_FALSE_POSITIVE : JOINT_SUPPORT,
      );
      this.combinations.set(leaf, c);
    }
    return c;
  }
}

/**
 * Which pairs of deciding-feature cells a leaf's model answers have seen (pairwise coverage). Verdicts decided by
 * an interaction of two features (user class × host role, hour × role) need every pair seen; requiring the full
 * cross product of every deciding feature instead would multiply the cells to learn with each split of the rule,
 * most of them on features that do not matter together. With one deciding feature, the cell itself.
 */
export class Combinations {
  private readonly seen = new Map<string, number>();

  constructor(
    rows: readonly (readonly string[])[],
    private readonly min: number,
  ) {
    for (const cells of rows) for (const [k] of Combinations.keys(cells)) this.seen.set(k, (this.seen.get(k) ?? 0) + 1);
  }

  covers(cells: readonly string[]): boolean {
    return this.unseen(cells) === null;
  }

  /** The positions of a pair of cells not seen often enough together, or null when every pair was. */
  unseen(cells: readonly string[]): number[] | null {
    for (const [k, at] of Combinations.keys(cells)) if ((this.seen.get(k) ?? 0) < this.min) return at;
    return null;
  }

  private static keys(cells: readonly string[]): [string, number[]][] {
    if (cells.length <= 1) return [[`0${cells[0] ?? ""}`, [0]]];
    const out: [string, number[]][] = [];
    for (let i = 0; i < cells.length; i++) for (let j = i + 1; j < cells.length; j++) out.push([`${i}${cells[i]}\u0000${j}${cells[j]}`, [i, j]]);
    return out;
  }
}

/** Categorical features whose values over the rule's examples are mostly one-offs (names, free text, ids). */
function nameLike(exs: readonly Example[]): Set<string> {
  const counts = new Map<string, Map<string, number>>();
  for (const e of exs) {
    for (const [f, v] of Object.entries(e.values)) {
      // The user class and asset role are closed classes by construction, however varied a rule's probes.
      if (typeof v === "number" || IDENTITY_CLASSES.has(f)) continue;
      let m = counts.get(f);
      if (!m) {
        m = new Map();
        counts.set(f, m);
      }
      m.set(v, (m.get(v) ?? 0) + 1);
    }
  }
  const out = new Set<string>();
  for (const [f, m] of counts) {
    let seen = 0;
    let singletons = 0;
    for (const c of m.values()) {
      seen += c;
      if (c === 1) singletons++;
    }
    if (seen >= OPEN_MIN_EXAMPLES && singletons / seen >= OPEN_SINGLETON_SHARE) out.add(f);
  }
  return out;
}

/** Features that are a property of the alert's source (its threat intel, its address class), not of the alert. */
function perSource(f: string): boolean {
  return f.startsWith("ti.") || f === "src_ip";
}

function cellOf(v: number, cuts: readonly number[]): number {
  let i = 0;
  while (i < cuts.length && v >= cuts[i]!) i++;
  return i;
}

function pure(exs: readonly Example[]): boolean {
  return exs.every((e) => e.label === exs[0]!.label);
}

function passes(t: Test, v: FeatureValue | undefined): boolean {
  if (t.op === ">=") return typeof v === "number" && v >= t.threshold;
  return (v ?? MISSING) === t.value;
}

function entropy(counts: ReadonlyMap<string, number>, n: number): number {
  if (n === 0) return 0;
  let h = 0;
  for (const c of counts.values()) if (c > 0) h -= (c / n) * Math.log2(c / n);
  return h;
}

function kinds(counts: ReadonlyMap<string, number>): number {
  let k = 0;
  for (const c of counts.values()) if (c > 0) k++;
  return k;
}

function tally(exs: readonly Example[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of exs) m.set(e.label, (m.get(e.label) ?? 0) + 1);
  return m;
}

/**
 * What the rule's siblings (the other rules of its input format) have learnt: of `rules` trees, in how many each
 * feature has a split that paid for itself.
 */
export interface Family {
  rules: number;
  proven: ReadonlyMap<string, number>;
}
const NO_FAMILY: Family = { rules: 0, proven: new Map() };
/**
 * Who and where — the user's class and the host's role — are judged by each leaf's own answers, as a deciding feature
 * is, whatever the rule or its siblings have split on: a leaf taught only by privileged users (or only on servers)
 * does not answer for an ordinary user (or a domain controller) because another leaf of the rule saw one. Verdicts
 * turn on who did it where more than on anything else an alert carries, and each has a handful of values, so every
 * leaf learns them in a few answers; before siblings have proven anything, the family cannot say so. So is whether the
 * source's intel is strong by the guard's measure (ti.strong): a needs_review leaf taught by strong sources does not
 * answer for a weak one (generator B: one such leaf gave 57 to 83 wrong answers on a seed). Not the converse for a
 * true_positive or needs_review leaf (coverage): strong intel only makes an answer more severe.
 */
const IDENTITY_CLASSES: ReadonlySet<string> = new Set(["user", "asset", STRONG_INTEL]);
/** Judged among a leaf's weak-source answers when it also holds strong ones (weakSources). */
const WEAK_PAIRED = ["asset", "user"] as const;
/** The asset-role feature (roleRanges). */
const ROLE = "asset";
/**
 * How far beyond a dismissal's range on one host role a deciding number reaches (share of that range's width) while
 * neither this rule nor its family has proven the role; once one has, STRETCH_FALSE_POSITIVE (roleRanges).
 */
const ROLE_STRETCH = 0.5;
/**
 * The guard's own measures of a source (GUARD_ABUSE_SCORE_MIN, GUARD_VT_MALICIOUS_MIN). A dismissal reaches over them
 * only as far as its own sources did, not a share of the width beyond: under a split on ti.strong a dismissal leaf
 * holds every weak source, and a hostile one just under the guard's threshold (generator A: 85 and 89, against a
 * kind's threshold of 85 or less) is not dismissed by a leaf whose sources reached 83.
 */
const GUARD_MEASURES: ReadonlySet<string> = new Set(["ti.abuse.score", "ti.vt.malicious"]);
/** Sibling rules that must have proven a feature before it is checked in every leaf here (familyProves). */
const FAMILY_MIN_RULES = 3;
/** At most this many features the family proved (and this rule did not) join a rule's pair features. */
const MAX_FAMILY_PAIRS = 8;
/** The most a feature's choice can be priced (a free field that decides in none of eleven or more siblings). */
const MAX_FEATURE_COST = Math.log2(12);

/**
 * Extra bits against choosing a free field for a split, under a prior learnt from the siblings: a field that decides
 * in k of n sibling rules costs log2((n + 1) / (k + 1)) — nothing while no sibling has learnt anything or when it
 * decides in every sibling, at most log2(12) (Laplace's rule of succession, relative to the most common feature).
 * With many noise fields, one of them separates a handful of answers by luck in some node; without this price it
 * wins, becomes deciding and makes every leaf of the rule learn its cells. What an attacker can do with it is
 * bounded (review-family.test.ts): structured features (identity, asset, addresses, threat intel) are never priced,
 * so no flood of invented rules makes a free field beat the user class it ties with; only siblings with a proven
 * split count in n, and the price is capped, so junk rules do not price every field out; and the price only steers
 * which feature is chosen — whether the split is proven (and so checked in pairs) is the plain criterion's.
 */
export function featureCost(f: string, family: Family): number {
  if (!freeField(f)) return 0;
  const n = family.rules;
  return Math.min(MAX_FEATURE_COST, Math.log2((n + 1) / (Math.min(n, family.proven.get(f) ?? 0) + 1)));
}

/** The alert's free fields (what a sender fills in at will), as opposed to its identity, addresses and threat intel. */
function freeField(f: string): boolean {
  return f.startsWith("fields.") || f === "description";
}

/** A candidate test with what it buys: information gain in bits over the node's examples, minus its description cost. */
export interface ScoredSplit {
  test: Test;
  /** n × information gain (bits). */
  bits: number;
  /** MDL cost of the test (bits): which of the feature's candidate tests, plus the sides' label sets. */
  cost: number;
  /** What the choice among features compares: bits − cost − the family prior's price of the feature. */
  choice?: number;
}

/**
 * The MDL criterion (Fayyad & Irani's, with the choice among the feature's own candidate tests instead of n − 1):
 * a test pays for itself when the bits it saves in coding the labels exceed the bits needed to say which test it
 * is and which labels each side holds. A feature with many candidate tests (a noisy number, an id-like code) must
 * separate the answers much better than a two-valued one to be chosen, and a chance separation of a handful of
 * answers does not pay: with few examples, a threshold on bytes or a duration separates labels by luck.
 */
export function splitScore(
  all: ReadonlyMap<string, number>,
  yes: ReadonlyMap<string, number>,
  yesN: number,
  n: number,
  candidates: number,
): { bits: number; cost: number } {
  const no = new Map<string, number>();
  for (const [k, c] of all) no.set(k, c - (yes.get(k) ?? 0));
  const noN = n - yesN;
  const h = entropy(all, n);
  const h1 = entropy(yes, yesN);
  const h2 = entropy(no, noN);
  const bits = n * h - yesN * h1 - noN * h2;
  const k = kinds(all);
  const delta = Math.log2(3 ** k - 2) - (k * h - kinds(yes) * h1 - kinds(no) * h2);
  return { bits, cost: Math.log2(Math.max(1, candidates)) + delta };
}

/**
 * The test to split on: per feature its most informative test, then the feature whose test pays most over its
 * MDL cost — bias-corrected selection: a many-valued feature (a noisy number, an id-like code) does not win by
 * having more chances to separate a few answers by luck. A leaf whose answers disagree always splits (on the best
 * such test, even one that does not yet pay for itself): leaving it impure would ask every alert it holds until
 * the evidence is significant, and a single disagreeing spot check or override would retire it for good. Ties go
 * to features that already decide, then to structured features (identity, addresses, threat intel).
 */
function bestSplit(exs: readonly Example[], open: ReadonlySet<string>, deciding: ReadonlySet<string>, family: Family): { test: Test; pays: boolean } | null {
  const n = exs.length;
  const all = tally(exs);
  // Examples without a source network count as one source, as they count as none for false_positive diversity.
  const sources = new Set(exs.map((e) => e.source)).size;
  let best: ScoredSplit | null = null;
  const features = new Set<string>();
  for (const e of exs) for (const k of Object.keys(e.values)) features.add(k);
  // Features that already decide elsewhere in the tree first: on a tie they win (fewer deciding features, fewer cells).
  // Then the alert's structured features (identity, addresses, threat intel) before its free fields.
  const prior = (f: string) => (deciding.has(f) ? 0 : freeField(f) ? 2 : 1);
  const ordered = [...features].sort((a, b) => prior(a) - prior(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const f of ordered) {
    const tests: { test: Test; yes: Map<string, number>; yesN: number }[] = [];
    // Numeric: a threshold between two neighbouring distinct values; the examples at or above it are "yes".
    const nums = exs.filter((e) => typeof e.values[f] === "number").sort((a, b) => (a.values[f] as number) - (b.values[f] as number));
    const above = tally(nums);
    let aboveN = nums.length;
    for (let i = 1; i < nums.length; i++) {
      const prev = nums[i - 1]!;
      above.set(prev.label, above.get(prev.label)! - 1);
      aboveN--;
      const lo = prev.values[f] as number;
      const hi = nums[i]!.values[f] as number;
      if (lo !== hi) tests.push({ test: { feature: f, op: ">=", threshold: (lo + hi) / 2, below: lo, atOrAbove: hi }, yes: new Map(above), yesN: aboveN });
    }
    // Categorical (and "has a number at all" for mixed features).
    const byValue = new Map<string, Example[]>();
    for (const e of exs) {
      const v = e.values[f];
      if (typeof v === "number") continue;
      const key = v ?? MISSING;
      const list = byValue.get(key);
      if (list) list.push(e);
      else byValue.set(key, [e]);
    }
    // A name-like feature (mostly one-off values in the rule) never decides: splitting on it would memorise single alerts.
    if (!open.has(f)) {
      const values = [...byValue.keys()].sort();
      // Two values are one test; a lone value with numbers beside it is the "has a number" test.
      for (const value of nums.length === 0 && values.length === 2 ? values.slice(0, 1) : values) {
        const yes = byValue.get(value)!;
        tests.push({ test: { feature: f, op: "=", value }, yes: tally(yes), yesN: yes.length });
      }
    }
    let top: ScoredSplit | null = null;
    for (const t of tests) {
      if (t.yesN === 0 || t.yesN === n) continue;
      const s = splitScore(all, t.yes, t.yesN, n, tests.length);
      // Threat intel describes the source, not the alert: its evidence counts once per source network, so the few
      // sources that dominate a rule's answers (one attacker's habits) do not make their reputation look decisive.
      if (perSource(f)) s.bits *= sources / n;
      if (!top || s.bits > top.bits + 1e-9) top = { test: t.test, ...s };
    }
    // The siblings' prior steers which feature is chosen; whether the chosen split pays (is proven) is the plain criterion's.
    if (top) top.choice = top.bits - top.cost - featureCost(f, family);
    if (top && (!best || top.choice! > best.choice! + 1e-9)) best = top;
  }
  return best ? { test: best.test, pays: best.bits - best.cost > 1e-9 } : null;
}

/** How Envelope.check judges a value. */
interface CheckOptions {
  /** The split thresholds' nearest examples on the alert's side (numbers of a feature the leaf's path tests). */
  bound?: { lo: number; hi: number } | undefined;
  /** A categorical feature no split tests: many distinct values already make a new one no news. */
  manyValuedOpen?: boolean;
  /** Categorical values must be among the seen ones (no one-off fallback). */
  strict?: boolean;
  /** The most a long-tailed number is stretched beyond the seen range (a factor). */
  logMax?: number;
  /** Toward a split, reach only the seen range, not the split's nearest example (which may be another leaf's). */
  ownReach?: boolean;
}

/** What a set of examples has seen, per feature: the numeric range, the categorical values and how many were one-offs. */
class Envelope {
  private readonly ranges = new Map<string, { lo: number; hi: number }>();
  private readonly values = new Map<string, Map<string, number>>();
  private readonly tokens = new Map<string, { all: Set<string>; shapes: Set<string>; ids: { lo: number; hi: number } | null }>();
  readonly n: number;

  constructor(exs: readonly Example[]) {
    this.n = exs.length;
    for (const e of exs) {
      for (const [f, v] of Object.entries(e.values)) {
        if (typeof v === "number") {
          const r = this.ranges.get(f);
          if (!r) this.ranges.set(f, { lo: v, hi: v });
          else {
            if (v < r.lo) r.lo = v;
            if (v > r.hi) r.hi = v;
          }
        } else this.count(f, v);
      }
    }
    // A feature an example lacks counts as the value MISSING.
    const features = new Set([...this.ranges.keys(), ...this.values.keys()]);
    for (const f of features) {
      let present = 0;
      for (const e of exs) if (e.values[f] !== undefined) present++;
      for (let i = present; i < exs.length; i++) this.count(f, MISSING);
    }
  }

  /** Whether this categorical value of f was seen. */
  has(f: string, v: string): boolean {
    return this.values.get(f)?.has(v) ?? false;
  }

  /**
   * Whether a new text value of f is close to the seen ones: every token of it is among the tokens the leaf saw in
   * f (digit runs inside a token compare by shape: `fs-12` ~ `fs-3`, but `m1m1katz` is its own token), except one
   * new word in a value of at least NEAR_MIN_TOKENS_FOR_NEW tokens; a value without words must have a seen shape.
   * Half-new texts (a share path with `ntds.dit` appended) are exactly what a dismissal must not stretch over.
   */
  near(f: string, v: string, idField: boolean): boolean {
    const seen = this.values.get(f);
    if (!seen) return false;
    let t = this.tokens.get(f);
    if (!t) {
      const raw = [...seen.keys()].filter((x) => x !== MISSING);
      const each = raw.map(tokensOf);
      // An id field: name-like in the rule (mostly one-off values), and every value the leaf saw is one token, all
      // distinct (a session id) — a new one of the same length is the same kind of value. A field of few repeating
      // values (a process image) is no id field, however many distinct ones a leaf saw once each.
      const single = idField && raw.length >= OPEN_MIN_EXAMPLES && raw.every((x) => isOneToken(x)) && [...seen.values()].every((c) => c === 1);
      const ids = single ? { lo: Math.min(...raw.map((x) => x.length)), hi: Math.max(...raw.map((x) => x.length)) } : null;
      t = { all: new Set(each.flatMap((x) => [...x])), shapes: new Set(raw.map(shapeOf)), ids };
      this.tokens.set(f, t);
    }
    if (t.ids && isOneToken(v) && v.length >= t.ids.lo && v.length <= t.ids.hi) return true;
    const mine = tokensOf(v);
    // No word at all (a version, an address, a number list): near only in a shape the leaf saw (`7.3.12` ~ `7.1.4`).
    if (![...mine].some((x) => /\p{L}/u.test(x))) return t.shapes.has(shapeOf(v));
    let unknown = 0;
    for (const x of mine) if (!t.all.has(x)) unknown++;
    // One new word among many known ones (a correlation tag in a templated description), never more, never in a short value.
    return unknown === 0 || (unknown === 1 && mine.size >= NEAR_MIN_TOKENS_FOR_NEW);
  }

  /** Distinct categorical values of f seen. */
  distinct(f: string): number {
    return this.values.get(f)?.size ?? 0;
  }

  /** Whether f was seen as a number. */
  numeric(f: string): boolean {
    return this.ranges.has(f);
  }

  features(): Iterable<string> {
    return new Set([...this.ranges.keys(), ...this.values.keys()]);
  }

  /** Why v lies outside, or null: numbers within the range stretched by `stretch` of its width (clipped to `bound`). */
  check(f: string, v: FeatureValue, stretch: number, how: CheckOptions = {}): AskReason | null {
    const { bound, manyValuedOpen = false, strict = false, logMax = LOG_MAX_FACTOR, ownReach = false } = how;
    if (typeof v === "number") {
      const r = this.ranges.get(f);
      if (!r) return "unseen_value";
      // Toward a split of this feature the leaf reaches up to the split's nearest example (the gap before the other
      // side's nearest example stays unknown ground); on an open side, a share of the seen width.
      // A positive number seen over orders of magnitude (bytes, records, report counts) is stretched by its order
      // of magnitude: on a linear scale each new maximum of a long tail would be "out of range".
      if (!Number.isFinite(v)) return "out_of_range";
      // Only for counts and sizes (at least 1): a tiny positive value would make any size "the same order".
      const logScale = r.lo >= 1 && r.hi / r.lo >= LOG_SPAN;
      const w = logScale ? Math.min(Math.log(logMax), (Math.log(r.hi) - Math.log(r.lo)) * stretch) : (r.hi - r.lo) * stretch;
      // A dismissal reaches toward a split only as far as its own answers: the split's nearest example may be another
      // leaf's (a high-reputation source's true_positive at 34 failed logins says nothing of a low-reputation one's).
      const min = bound && bound.lo !== -Infinity ? (ownReach ? r.lo : Math.min(r.lo, bound.lo)) : logScale ? r.lo * Math.exp(-w) : r.lo - w;
      const max = bound && bound.hi !== Infinity ? (ownReach ? r.hi : Math.max(r.hi, bound.hi)) : logScale ? r.hi * Math.exp(w) : r.hi + w;
      if (v < min || v > max) return "out_of_range";
      return null;
    }
    const counts = this.values.get(f);
    if (counts?.has(v)) return null;
    if (strict || !counts || this.ranges.has(f)) return "unseen_value";
    let singletons = 0;
    let seen = 0;
    for (const c of counts.values()) {
      seen += c;
      if (c === 1) singletons++;
    }
    if (manyValuedOpen && counts.size >= OPEN_MIN_VALUES) return null;
    return seen >= OPEN_MIN_EXAMPLES && singletons / seen >= OPEN_SINGLETON_SHARE ? null : "unseen_value";
  }

  private count(f: string, v: string): void {
    let m = this.values.get(f);
    if (!m) {
      m = new Map();
      this.values.set(f, m);
    }
    m.set(v, (m.get(v) ?? 0) + 1);
  }
}

/**
 * Lower-case word tokens of a text value (at most 64). A token with a digit in it (an id, a version, a port, a
 * counter) is compared by shape only — it stands for "#" — so session ids and versions do not make every value
 * new; words (a tool, a command, a verb) are compared as they are.
 */
function isOneToken(v: string): boolean {
  return /^[\p{L}\p{N}_-]{1,64}$/u.test(v);
}

/** A value's digit runs as `#`: what a value without words is compared by. */
function shapeOf(v: string): string {
  return v.toLowerCase().replace(/\p{N}+/gu, "#");
}

/** More than any feature value holds (values are capped at 160 characters): every token is compared. */
const MAX_TOKENS = 256;

function tokensOf(v: string): Set<string> {
  return new Set(
    v
      .toLowerCase()
      .split(/[^\p{L}\p{N}<>_]+/u)
      .filter((x) => x.length > 0)
      .slice(0, MAX_TOKENS)
      .map((x) => x.replace(/\p{N}+/gu, "#")),
  );
}

/** Readable conditions of a leaf: its path's tests, numeric ones as the range the leaf has answers for. */
function conditionsOf(
  path: readonly Test[],
  yesOf: readonly boolean[],
  exs: readonly Example[],
  ownReach: boolean,
  models: readonly Example[],
  values: Readonly<Record<string, FeatureValue>>,
): string[] {
  const ranges = new Map<string, { lo: number; hi: number }>();
  const out: string[] = [];
  path.forEach((t, i) => {
    if (t.op === "=") {
      const c = `${t.feature} ${yesOf[i] ? "=" : "!="} ${t.value}`;
      if (!out.includes(c)) out.push(c);
      return;
    }
    const r = ranges.get(t.feature) ?? { lo: -Infinity, hi: Infinity };
    if (yesOf[i]) r.lo = Math.max(r.lo, t.atOrAbove);
    else r.hi = Math.min(r.hi, t.below);
    ranges.set(t.feature, r);
  });
  // A dismissal's reach over the guard's measures of the source is its own sources', split on or not (GUARD_MEASURES).
  if (ownReach) for (const f of GUARD_MEASURES) if (!ranges.has(f)) ranges.set(f, { lo: -Infinity, hi: Infinity });
  for (const [f, r] of ranges) {
    const seen = exs.map((e) => e.values[f]).filter((x): x is number => typeof x === "number");
    if (ownReach && GUARD_MEASURES.has(f)) {
      // What was checked: the alert's own status when it has no number (a failed or skipped lookup), else the model
      // answers' range (overrides never widen a dismissal's reach: coverage).
      const v = values[f];
      const mine = models.map((e) => e.values[f]).filter((x): x is number => typeof x === "number");
      if (v === undefined) {
        if (models.some((e) => e.values[f] !== undefined)) out.push(`${f} absent`);
      } else if (typeof v === "string") out.push(`${f} = ${v}`);
      else if (mine.length > 0) {
        const [lo, hi] = [Math.min(...mine), Math.max(...mine)];
        out.push(lo === hi ? `${f} = ${fmt(lo)}` : `${f} in ${fmt(lo)}..${fmt(hi)}`);
      }
      continue;
    }
    // A dismissal reaches toward a split only as far as its own answers (Envelope.check): say so.
    if (ownReach && seen.length > 0) {
      if (r.lo !== -Infinity) r.lo = Math.min(...seen);
      if (r.hi !== Infinity) r.hi = Math.max(...seen);
    }
    if (r.lo !== -Infinity && r.hi !== Infinity) out.push(`${f} in ${fmt(r.lo)}..${fmt(r.hi)}`);
    else if (r.lo !== -Infinity) out.push(`${f} >= ${fmt(r.lo)}`);
    // The "below" side of a numeric test also holds alerts without a number there.
    else out.push(seen.length === 0 ? `${f} is not a number` : `${f} <= ${fmt(r.hi)}`);
  }
  return out;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
