/**
 * Where a finite run (replay) may write: every output is checked before the first record is read, so that a
 * run never overwrites its own input, never interleaves two outputs in one file, and never finds out at the
 * end that a report cannot be written.
 */
import { closeSync, fstatSync, openSync, realpathSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** One line for a failed file operation: "ENOSPC (no space left on device)". */
export function fsErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : "EIO";
  // Node's messages read "ENOSPC: no space left on device, write": keep the human part only.
  const human = typeof e?.message === "string" ? /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1] : undefined;
  return human ? `${code} (${human})` : code;
}

/** An output path the user named, with the option that named it. */
export interface NamedOutput {
  option: string;
  path: string;
}

/** Why the outputs cannot be used: `refused` (the paths conflict, exit 2) or `unwritable` (exit 1). */
export type OutputProblem = { kind: "refused"; message: string } | { kind: "unwritable"; message: string };

interface Identity {
  /** Canonical path (symlinks and .. resolved; the parent's for a file that does not exist yet). */
  real: string;
  /** dev:ino of an existing file, so hard links are recognised too. */
  inode: string | null;
  /** A character device (`/dev/null`, a terminal): two outputs may share it, nothing there is a file to spoil. */
  device?: boolean;
}

function identity(path: string): Identity {
  const abs = resolve(path);
  try {
    const st = statSync(abs);
    return { real: realpathSync(abs), inode: `${st.dev}:${st.ino}`, device: st.isCharacterDevice() };
  } catch {
    try {
      return { real: join(realpathSync(dirname(abs)), basename(abs)), inode: null };
    } catch {
      return { real: abs, inode: null };
    }
  }
}

export interface CheckOptions {
  /** Where standard input is (the input when it is `null`); 0 but in tests. */
  stdinFd?: number;
  /** Streams the run writes to anyway (standard output and error), checked against the input. */
  streams?: readonly { name: string; fd: number }[];
}

/** The file behind a descriptor, when it is one (`replay - < X`, `replay X >> X`); null for pipes, terminals. */
function fdIdentity(fd: number): Identity | null {
  try {
    const st = fstatSync(fd);
    return st.isFile() ? { real: `\0fd${fd}`, inode: `${st.dev}:${st.ino}` } : null;
  } catch {
    return null;
  }
}

const same = (a: Identity, b: Identity) => a.real === b.real || (a.inode !== null && a.inode === b.inode);

/**
 * Check the outputs (and `opts.streams`) against the input (`null` for stdin: then the file on `stdinFd`, if it is
 * one) and the outputs against each other, then that each can be written.
 * Nothing is truncated or left behind: an existing file is opened for writing without truncation, a new one is
 * created and removed again. Returns the first problem, or null when the run may start.
 */
export function checkOutputs(input: string | null, outputs: readonly NamedOutput[], opts: CheckOptions = {}): OutputProblem | null {
  const ids = outputs.map((o) => identity(o.path));
  const inId = input !== null ? identity(input) : fdIdentity(opts.stdinFd ?? 0);
  if (inId !== null) {
    const named = input ?? "on standard input";
    for (let i = 0; i < outputs.length; i++) {
      if (same(ids[i]!, inId))
        return { kind: "refused", message: `${outputs[i]!.option} ${outputs[i]!.path} is the input file ${named}: refusing to overwrite the input` };
    }
    // `replay X >> X`: what the run prints would be appended to its own input.
    for (const s of opts.streams ?? []) {
      const id = fdIdentity(s.fd);
      if (id !== null && same(id, inId)) return { kind: "refused", message: `${s.name} is the input file ${named}: refusing to append to the input` };
    }
  }
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) {
      if (same(ids[i]!, ids[j]!) && !ids[i]!.device) {
        return {
          kind: "refused",
          message: `${outputs[i]!.option} and ${outputs[j]!.option} name the same file (${outputs[j]!.path}): give each output its own path`,
        };
      }
    }
  }
  for (const o of outputs) {
    const problem = probeWritable(o.path);
    if (problem) return { kind: "unwritable", message: `cannot write ${o.option} ${o.path}: ${problem}` };
  }
  return null;
}

/** Can `path` be opened for writing? Tries it (access(2) says yes to root for anything). */
function probeWritable(path: string): string | null {
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  try {
    // r+ writes without truncating; wx creates only a new file, which is removed again.
    const fd = openSync(path, exists ? "r+" : "wx");
    closeSync(fd);
    if (!exists) unlinkSync(path);
    return null;
  } catch (err) {
    return fsErrorText(err);
  }
}
