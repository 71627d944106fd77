import { isObject, runtimeError } from './common';

/**
 * The small JSONPath subset ASL definitions use: `$`, `$.a.b`, `$.a[0]`, `$['x']`, `$["x"]`.
 * Wildcards, filters, slices and recursive descent are rejected.
 */
export type PathSegment = string | number;

const parsed = new Map<string, PathSegment[]>();
const BRACKET = /^\[(?:(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]/;
const FIELD = /^[^.[\]*@?()\s]+/;

export function parsePath(path: string): PathSegment[] {
  const cached = parsed.get(path);
  if (cached) return cached;
  if (!path.startsWith('$')) throw runtimeError(`Invalid JSONPath '${path}': must start with '$'`);
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    const field = rest.startsWith('.') ? FIELD.exec(rest.slice(1)) : null;
    const bracket = rest.startsWith('[') ? BRACKET.exec(rest) : null;
    if (field) {
      segments.push(field[0]);
      i += 1 + field[0].length;
    } else if (bracket) {
      const [whole, index, single, double] = bracket;
      segments.push(index !== undefined ? Number(index) : (single ?? double ?? '').replace(/\\(.)/g, '$1'));
      i += whole.length;
    } else {
      throw runtimeError(`Unsupported JSONPath '${path}' at '${rest}'`);
    }
  }
  parsed.set(path, segments);
  return segments;
}

/** The value at `path`, or undefined when it does not exist (JSON values are never undefined). */
export function readPath(root: unknown, path: string): unknown {
  let value = root;
  for (const segment of parsePath(path)) {
    if (typeof segment === 'number' && Array.isArray(value)) value = value[segment];
    else if (typeof segment === 'string' && isObject(value) && Object.hasOwn(value, segment))
      value = value[segment];
    else return undefined;
  }
  return value;
}

/** Like readPath but a missing value is a States.Runtime error, as in AWS. */
export function requirePath(root: unknown, path: string, field: string): unknown {
  const value = readPath(root, path);
  if (value === undefined) {
    throw runtimeError(
      `The JSONPath '${path}' specified for the field '${field}' could not be found in the input '${JSON.stringify(root)}'`,
    );
  }
  return value;
}

/** Returns a copy of `root` with `value` placed at `path` (creating missing objects); `root` is not mutated. */
export function writePath(root: unknown, path: string, value: unknown): unknown {
  const segments = parsePath(path);
  const place = (node: unknown, depth: number): unknown => {
    const segment = segments[depth];
    if (segment === undefined) return value;
    if (typeof segment === 'number') {
      if (!Array.isArray(node) || segment >= node.length) throw unableToApply(path, root);
      const copy = [...node];
      copy[segment] = place(node[segment], depth + 1);
      return copy;
    }
    if (node === undefined) node = {};
    if (!isObject(node)) throw unableToApply(path, root);
    const child = Object.hasOwn(node, segment) ? node[segment] : undefined;
    return { ...node, [segment]: place(child, depth + 1) };
  };
  return place(root, 0);
}

const unableToApply = (path: string, root: unknown) =>
  runtimeError(`Unable to apply ReferencePath '${path}' to input '${JSON.stringify(root)}'`);
