/** Expected outcomes are values, not exceptions. */
export type Ok<T> = { ok: true; value: T };
export type Invalid = { ok: false; code: string; message: string };
export type Result<T> = Ok<T> | Invalid;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const invalid = (code: string, message: string): Invalid => ({ ok: false, code, message });
