import { randomUUID } from 'node:crypto';
import { deepEqual, runtimeError } from './common';

/** Intrinsic functions of JSONPath ASL (`States.Format('{}', $.x)` and friends), parsed once and cached. */
type Arg =
  | { kind: 'literal'; value: unknown }
  | { kind: 'string'; value: string; raw: string }
  | { kind: 'path'; path: string }
  | Call;
interface Call {
  kind: 'call';
  name: string;
  args: Arg[];
}
/** Resolves a `$...` or `$$...` path argument; throws when it does not exist. */
export type PathResolver = (path: string) => unknown;

type Impl = (args: unknown[], rawTemplate: string | undefined) => unknown;
interface Fn {
  min: number;
  max: number;
  impl: Impl;
}

const fail = (name: string, message: string) => runtimeError(`${name}: ${message}`);
const str = (name: string, v: unknown): string => {
  if (typeof v !== 'string') throw fail(name, `expected a string argument, got ${JSON.stringify(v)}`);
  return v;
};
const num = (name: string, v: unknown): number => {
  if (typeof v !== 'number') throw fail(name, `expected a number argument, got ${JSON.stringify(v)}`);
  return v;
};
const int = (name: string, v: unknown): number => {
  const n = num(name, v);
  if (!Number.isInteger(n)) throw fail(name, `expected an integer argument, got ${n}`);
  return n;
};
const arr = (name: string, v: unknown): unknown[] => {
  if (!Array.isArray(v)) throw fail(name, `expected an array argument, got ${JSON.stringify(v)}`);
  return v;
};

/** `{}` placeholders; a backslash escapes the next character (`\{`, `\}`, `\'`, `\\`). */
function format(template: string, values: unknown[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '\\' && i + 1 < template.length) out += template[++i];
    else if (c === '{' && template[i + 1] === '}') {
      if (next >= values.length) throw fail('States.Format', 'more placeholders than arguments');
      const v = values[next++];
      out += typeof v === 'string' ? v : JSON.stringify(v);
      i++;
    } else out += c;
  }
  if (next !== values.length) throw fail('States.Format', 'more arguments than placeholders');
  return out;
}

const FUNCTIONS: Record<string, Fn> = {
  'States.Format': {
    min: 1,
    max: Number.POSITIVE_INFINITY,
    impl: ([t, ...rest], raw) => format(raw ?? str('States.Format', t), rest),
  },
  'States.StringToJson': {
    min: 1,
    max: 1,
    impl: ([s]) => {
      try {
        return JSON.parse(str('States.StringToJson', s));
      } catch (e) {
        throw fail('States.StringToJson', e instanceof Error ? e.message : String(e));
      }
    },
  },
  'States.JsonToString': { min: 1, max: 1, impl: ([v]) => JSON.stringify(v) },
  'States.Array': { min: 0, max: Number.POSITIVE_INFINITY, impl: (args) => args },
  'States.ArrayPartition': {
    min: 2,
    max: 2,
    impl: ([a, size]) => {
      const items = arr('States.ArrayPartition', a);
      const n = int('States.ArrayPartition', size);
      if (n <= 0) throw fail('States.ArrayPartition', 'chunk size must be positive');
      const chunks: unknown[][] = [];
      for (let i = 0; i < items.length; i += n) chunks.push(items.slice(i, i + n));
      return chunks;
    },
  },
  'States.ArrayContains': {
    min: 2,
    max: 2,
    impl: ([a, v]) => arr('States.ArrayContains', a).some((item) => deepEqual(item, v)),
  },
  'States.ArrayRange': {
    min: 3,
    max: 3,
    impl: ([s, e, st]) => {
      const [start, end, step] = [
        int('States.ArrayRange', s),
        int('States.ArrayRange', e),
        int('States.ArrayRange', st),
      ];
      if (step === 0) throw fail('States.ArrayRange', 'step must not be 0');
      const out: number[] = [];
      for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
        if (out.length === 1000) throw fail('States.ArrayRange', 'more than 1000 items');
        out.push(v);
      }
      return out;
    },
  },
  'States.ArrayGetItem': {
    min: 2,
    max: 2,
    impl: ([a, i]) => {
      const item = arr('States.ArrayGetItem', a)[int('States.ArrayGetItem', i)];
      if (item === undefined) throw fail('States.ArrayGetItem', `index ${String(i)} out of bounds`);
      return item;
    },
  },
  'States.ArrayLength': { min: 1, max: 1, impl: ([a]) => arr('States.ArrayLength', a).length },
  'States.ArrayUnique': {
    min: 1,
    max: 1,
    impl: ([a]) => {
      const out: unknown[] = [];
      for (const item of arr('States.ArrayUnique', a))
        if (!out.some((o) => deepEqual(o, item))) out.push(item);
      return out;
    },
  },
  'States.Base64Encode': {
    min: 1,
    max: 1,
    impl: ([s]) => Buffer.from(str('States.Base64Encode', s), 'utf8').toString('base64'),
  },
  'States.Base64Decode': {
    min: 1,
    max: 1,
    impl: ([s]) => Buffer.from(str('States.Base64Decode', s), 'base64').toString('utf8'),
  },
  'States.MathAdd': { min: 2, max: 2, impl: ([a, b]) => num('States.MathAdd', a) + num('States.MathAdd', b) },
  'States.MathRandom': {
    min: 2,
    max: 3,
    impl: ([a, b]) => {
      const [start, end] = [int('States.MathRandom', a), int('States.MathRandom', b)];
      return start + Math.floor(Math.random() * (end - start));
    },
  },
  'States.StringSplit': {
    min: 2,
    max: 2,
    impl: ([s, d]) => {
      const delimiters = new Set(str('States.StringSplit', d));
      const parts: string[] = [];
      let current = '';
      for (const c of str('States.StringSplit', s)) {
        if (!delimiters.has(c)) current += c;
        else if (current) {
          parts.push(current);
          current = '';
        }
      }
      if (current) parts.push(current);
      return parts;
    },
  },
  'States.UUID': { min: 0, max: 0, impl: () => randomUUID() },
};

const parsed = new Map<string, Call>();

export function parseIntrinsic(source: string): Call {
  const cached = parsed.get(source);
  if (cached) return cached;
  let i = 0;
  const bad = (why: string) =>
    runtimeError(`Invalid intrinsic function '${source}': ${why} at position ${i}`);
  const skipSpaces = () => {
    while (source[i] === ' ') i++;
  };
  const expect = (c: string) => {
    if (source[i] !== c) throw bad(`expected '${c}'`);
    i++;
  };

  const call = (): Call => {
    const name = /^States\.[A-Za-z0-9]+/.exec(source.slice(i))?.[0];
    if (!name) throw bad('expected a States.* function');
    const fn = FUNCTIONS[name];
    if (!fn) throw bad(`unsupported function ${name}`);
    i += name.length;
    skipSpaces();
    expect('(');
    skipSpaces();
    const args: Arg[] = [];
    while (source[i] !== ')') {
      if (args.length) {
        expect(',');
        skipSpaces();
      }
      args.push(arg());
      skipSpaces();
    }
    i++;
    if (args.length < fn.min || args.length > fn.max)
      throw bad(`${name} takes ${fn.min}..${fn.max} arguments`);
    return { kind: 'call', name, args };
  };

  const arg = (): Arg => {
    const rest = source.slice(i);
    if (rest.startsWith("'")) {
      const m = /^'((?:[^'\\]|\\.)*)'/.exec(rest);
      if (!m) throw bad('unterminated string');
      i += m[0].length;
      const raw = m[1] ?? '';
      return { kind: 'string', raw, value: raw.replace(/\\(.)/g, '$1') };
    }
    if (rest.startsWith('$')) {
      // A path runs to the next ',' or ')' outside brackets/quotes.
      const m = /^\$(?:[^,)[\]'"]|\[(?:[^\]'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*\])*/.exec(rest);
      const path = (m?.[0] ?? '$').trimEnd();
      i += m?.[0].length ?? 1;
      return { kind: 'path', path };
    }
    if (rest.startsWith('States.')) return call();
    const literal = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)(?=\s*[,)])/.exec(rest);
    if (!literal) throw bad('expected an argument');
    i += literal[0].length;
    return { kind: 'literal', value: JSON.parse(literal[0]) };
  };

  const result = call();
  skipSpaces();
  if (i !== source.length) throw bad('unexpected trailing characters');
  parsed.set(source, result);
  return result;
}

export function evaluateIntrinsic(source: string, resolve: PathResolver): unknown {
  return evaluate(parseIntrinsic(source), resolve);
}

function evaluate(call: Call, resolve: PathResolver): unknown {
  const values = call.args.map((a) => {
    if (a.kind === 'call') return evaluate(a, resolve);
    if (a.kind === 'path') return resolve(a.path);
    return a.value;
  });
  const first = call.args[0];
  const rawTemplate = first?.kind === 'string' ? first.raw : undefined;
  return FUNCTIONS[call.name]?.impl(values, rawTemplate);
}

/** The intrinsic's path arguments, so definitions can be validated up front. */
export function intrinsicPaths(source: string): string[] {
  const paths: string[] = [];
  const walk = (c: Call) => {
    for (const a of c.args) {
      if (a.kind === 'call') walk(a);
      else if (a.kind === 'path') paths.push(a.path);
    }
  };
  walk(parseIntrinsic(source));
  return paths;
}
