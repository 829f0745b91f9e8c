import type { Alert } from "../../core/alert.js";
import type { Result } from "../../core/result.js";

/** An alert before the registry fills in a derived id. */
export type AlertDraft = Omit<Alert, "alert_id" | "format"> & { alert_id: string | null };

/** One input format (native, a SIEM's shape): cheap detection plus mapping to our alert. */
export interface AlertFormat {
  readonly name: string;
  /** True when the record looks like this format; cheap and never throws. */
  detect(record: Record<string, unknown>): boolean;
  /** Map to our alert, or say which needed field is missing/bad. */
  normalize(record: Record<string, unknown>): Result<AlertDraft>;
  /** Why `detect` is false (null when it is true): for people writing a mapping (`triage formats check`). */
  explain?(record: Record<string, unknown>): string | null;
}
