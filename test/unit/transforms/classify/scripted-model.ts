import type { ModelClient, ModelReply, ModelRequest } from "../../../../src/core/ports/index.js";
import { extractAlerts } from "../../../fakes/gemini.js";

export interface ScriptedCall {
  /** The request-local ids of the prompt (a1 … aN). */
  ids: string[];
  /** Each prompt alert's host (tests put a label there: prompt ids are request-local, alert ids are not sent). */
  hosts: string[];
  request: ModelRequest;
}

/** An item the way a model would answer it. */
export function answerFor(id: string, classification = "true_positive"): Record<string, unknown> {
  return {
    alert_id: id,
    reasoning: `Evidence for ${id}.`,
    classification,
    severity: "high",
    confidence: 80,
    recommended_actions: ["Block the IP"],
    mitre_techniques: ["T1110"],
  };
}

/** A normal answer: one item per asked id, 10 prompt + 5 output tokens per alert. */
export function answerAll(ids: string[], classify: (id: string) => string = () => "true_positive"): ModelReply {
  return {
    kind: "answer",
    text: JSON.stringify(ids.map((id) => answerFor(id, classify(id)))),
    truncated: false,
    finishReason: "STOP",
    usage: { promptTokens: 10 * ids.length, outputTokens: 5 * ids.length, thoughtsTokens: 0 },
  };
}

/** A ModelClient port whose replies come from a script over the alert ids in each prompt (no HTTP). */
export class ScriptedModel implements ModelClient {
  readonly model = "gemini-test";
  readonly calls: ScriptedCall[] = [];

  constructor(
    private readonly reply: (ids: string[], call: number, alerts: Record<string, unknown>[]) => ModelReply | Promise<ModelReply> = (ids) => answerAll(ids),
  ) {}

  async generate(request: ModelRequest): Promise<ModelReply> {
    const alerts = extractAlerts([request.userPrompt]);
    const ids = alerts.map((a) => String(a.alert_id));
    this.calls.push({ ids, hosts: alerts.map((a) => String(a.host ?? "")), request });
    return this.reply(ids, this.calls.length, alerts);
  }

  /** Alerts per call, in call order. */
  get sizes(): number[] {
    return this.calls.map((c) => c.ids.length);
  }
}
