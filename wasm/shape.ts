/**
 * A small declarative shape checker for the decoder's JSON: describes the report once, gives
 * its TypeScript type (`Infer`) and checks a parsed value without copying it — the report of a
 * large capture holds hundreds of thousands of objects, so validation must not allocate.
 */

/** A shape: what one JSON value must look like. */
export type Shape =
  | { readonly k: "uint" }
  | { readonly k: "num" }
  | { readonly k: "str"; readonly re?: RegExp }
  | { readonly k: "bool" }
  | { readonly k: "lit"; readonly v: string }
  | { readonly k: "enum"; readonly vs: readonly string[] }
  | { readonly k: "null"; readonly of: Shape }
  | { readonly k: "opt"; readonly of: Shape }
  | { readonly k: "arr"; readonly of: Shape }
  | { readonly k: "obj"; readonly fields: Readonly<Record<string, Shape>> }
  | { readonly k: "rec"; readonly of: Shape }
  | { readonly k: "any" };

/** Shape constructors. */
export const s = {
  uint: { k: "uint" } as const,
  num: { k: "num" } as const,
  str: { k: "str" } as const,
  bool: { k: "bool" } as const,
  /** Any JSON scalar (string, number, boolean or null). */
  scalar: { k: "any" } as const,
  match: (re: RegExp) => ({ k: "str", re }) as const,
  lit: <V extends string>(v: V) => ({ k: "lit", v }) as const,
  enum: <const V extends readonly string[]>(vs: V) => ({ k: "enum", vs }) as const,
  nullable: <S extends Shape>(of: S) => ({ k: "null", of }) as const,
  optional: <S extends Shape>(of: S) => ({ k: "opt", of }) as const,
  array: <S extends Shape>(of: S) => ({ k: "arr", of }) as const,
  object: <F extends Record<string, Shape>>(fields: F) => ({ k: "obj", fields }) as const,
  record: <S extends Shape>(of: S) => ({ k: "rec", of }) as const,
};

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
type OptKeys<F> = { [K in keyof F]: F[K] extends { k: "opt" } ? K : never }[keyof F];
type ReqKeys<F> = Exclude<keyof F, OptKeys<F>>;

/** The TypeScript type a shape describes. */
export type Infer<S> = S extends { k: "uint" | "num" } ? number
  : S extends { k: "str" } ? string
  : S extends { k: "bool" } ? boolean
  : S extends { k: "any" } ? string | number | boolean | null
  : S extends { k: "lit"; v: infer V } ? V
  : S extends { k: "enum"; vs: readonly (infer V)[] } ? V
  : S extends { k: "null"; of: infer O } ? Infer<O> | null
  : S extends { k: "opt"; of: infer O } ? Infer<O>
  : S extends { k: "arr"; of: infer O } ? Infer<O>[]
  : S extends { k: "rec"; of: infer O } ? Record<string, Infer<O>>
  : S extends { k: "obj"; fields: infer F } ? Simplify<
      & { [K in ReqKeys<F>]: Infer<F[K]> }
      & { [K in OptKeys<F>]?: Infer<F[K]> }
    >
  : never;

/**
 * Checks `value` against `shape`; returns the first problem as "path: what", or null.
 * Objects must not carry keys the shape does not name (catches schema drift).
 */
export function checkShape(value: unknown, shape: Shape): string | null {
  const path: (string | number)[] = [];
  const problem = check(value, shape, path);
  return problem === null
    ? null
    : `$${path.map((p) => typeof p === "number" ? `[${p}]` : `.${p}`).join("")}: ${problem}`;
}

const fieldKeys = new WeakMap<object, string[]>();
const enumSets = new WeakMap<object, Set<string>>();

/** The path is kept as a stack and only joined when a problem is found (no per-value strings). */
function check(value: unknown, shape: Shape, path: (string | number)[]): string | null {
  switch (shape.k) {
    case "uint":
      return Number.isInteger(value) && (value as number) >= 0 ? null : "not an unsigned integer";
    case "num":
      return typeof value === "number" && Number.isFinite(value) ? null : "not a number";
    case "str":
      if (typeof value !== "string") return "not a string";
      return shape.re && !shape.re.test(value) ? `"${value}" does not match ${shape.re}` : null;
    case "bool":
      return typeof value === "boolean" ? null : "not a boolean";
    case "any":
      return value === null || typeof value === "string" || typeof value === "number" ||
          typeof value === "boolean"
        ? null
        : "not a JSON scalar";
    case "lit":
      return value === shape.v ? null : `not "${shape.v}"`;
    case "enum": {
      let set = enumSets.get(shape);
      if (!set) enumSets.set(shape, set = new Set(shape.vs));
      return set.has(value as string)
        ? null
        : `${JSON.stringify(value)} is not one of ${shape.vs.join(", ")}`;
    }
    case "null":
      return value === null ? null : check(value, shape.of, path);
    case "opt":
      return value === undefined ? null : check(value, shape.of, path);
    case "arr": {
      if (!Array.isArray(value)) return "not an array";
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        const p = check(value[i], shape.of, path);
        if (p !== null) return p;
        path.pop();
      }
      return null;
    }
    case "rec": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return "not an object";
      }
      for (const key in value) {
        path.push(key);
        const p = check((value as Record<string, unknown>)[key], shape.of, path);
        if (p !== null) return p;
        path.pop();
      }
      return null;
    }
    case "obj": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return "not an object";
      }
      const v = value as Record<string, unknown>;
      let keys = fieldKeys.get(shape);
      if (!keys) fieldKeys.set(shape, keys = Object.keys(shape.fields));
      let present = 0;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const field = v[key];
        if (field !== undefined) present++;
        path.push(key);
        const p = check(field, shape.fields[key], path);
        if (p !== null) return p;
        path.pop();
      }
      // Every key of `v` named by the shape was counted: any other key is drift.
      let own = 0;
      for (const _ in v) own++;
      if (own !== present) {
        for (const key in v) {
          if (!(key in shape.fields)) {
            path.push(key);
            return "not in the schema";
          }
        }
      }
      return null;
    }
  }
}
