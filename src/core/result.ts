import type { ErrorCode } from "./error-codes.js";

/** Expected outcomes are values, not exceptions; codes are catalogued in core/error-codes.ts (ERRORS.md). */
export type Ok<T> = { ok: true; value: T };
export type Invalid = { ok: false; code: ErrorCode; message: string };
export type Result<T> = Ok<T> | Invalid;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const invalid = (code: ErrorCode, message: string): Invalid => ({ ok: false, code, message });
