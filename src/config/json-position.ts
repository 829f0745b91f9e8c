/**
 * Where `text` stops being valid JSON, as 1-based line and column; undefined when it is valid. Used instead of
 * JSON.parse's message, which quotes the text around the error: in a config file that text can be an API key.
 */
export function jsonErrorPosition(text: string): { line: number; column: number } | undefined {
  const offset = jsonErrorOffset(text);
  if (offset < 0) return undefined;
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Offset of the first character that is not valid JSON (text.length when the text ends too early); -1 if valid. */
export function jsonErrorOffset(text: string): number {
  const n = text.length;
  let i = 0;
  const fail = (at: number): never => {
    throw new JsonStop(at);
  };
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail(n);
      const c = text.charCodeAt(i);
      if (c === 34) return void i++;
      if (c < 0x20) fail(i);
      if (c !== 92) {
        i++;
        continue;
      }
      i++;
      const e = text[i];
      if (e === undefined) fail(n);
      if ('"\\/bfnrt'.includes(e!)) i++;
      else if (e === "u") {
        for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) fail(Math.min(i + k, n));
        i += 5;
      } else fail(i);
    }
  };
  const word = (w: string) => {
    for (let k = 0; k < w.length; k++) if (text[i + k] !== w[k]) fail(Math.min(i + k, n));
    i += w.length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === undefined) fail(n);
    if (c === "{") container("}", true);
    else if (c === "[") container("]", false);
    else if (c === '"') str();
    else if (c === "t") word("true");
    else if (c === "f") word("false");
    else if (c === "n") word("null");
    else {
      NUMBER.lastIndex = i;
      if (NUMBER.test(text)) i = NUMBER.lastIndex;
      else fail(i);
    }
  };
  const container = (close: string, object: boolean) => {
    i++;
    ws();
    if (text[i] === close) return void i++;
    for (;;) {
      ws();
      if (object) {
        if (text[i] !== '"') fail(Math.min(i, n));
        str();
        ws();
        if (text[i] !== ":") fail(Math.min(i, n));
        i++;
      }
      value();
      ws();
      if (text[i] === ",") i++;
      else if (text[i] === close) return void i++;
      else fail(Math.min(i, n));
    }
  };
  try {
    value();
    ws();
    return i < n ? i : -1;
  } catch (err) {
    if (err instanceof JsonStop) return err.offset;
    return 0; // nesting deep enough to exhaust the stack: no position to give
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}
