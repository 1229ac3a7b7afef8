/**
 * A shape turned into one straight-line JavaScript predicate. `checkShape` walks the shape
 * tree for every value (a switch, a path stack and map look-ups each time); a report of a
 * million-packet capture holds tens of thousands of values and is checked once per process,
 * mostly before V8 optimises anything, so the walk's overhead dominates. The generated
 * function does only the checks themselves. It answers yes or no; `checkShape` names the
 * problem when the answer is no.
 */
import type { Shape } from "./shape.ts";

/** Returns a predicate that accepts exactly the values `checkShape(value, shape)` accepts. */
export function compileShape(shape: Shape): (value: unknown) => boolean {
  const constants: unknown[] = [];
  let vars = 0;
  const fresh = () => `v${vars++}`;
  const constant = (c: unknown) => `c[${constants.push(c) - 1}]`;

  /** Statements that `return false` unless the expression `v` has `shape`. */
  function emit(v: string, shape: Shape): string {
    switch (shape.k) {
      case "uint":
        return `if (!Number.isInteger(${v}) || ${v} < 0) return false;\n`;
      case "num":
        return `if (typeof ${v} !== "number" || !Number.isFinite(${v})) return false;\n`;
      case "str":
        return shape.re
          ? `if (typeof ${v} !== "string" || !${constant(shape.re)}.test(${v})) return false;\n`
          : `if (typeof ${v} !== "string") return false;\n`;
      case "bool":
        return `if (typeof ${v} !== "boolean") return false;\n`;
      case "any":
        return `if (${v} !== null && typeof ${v} !== "string" && typeof ${v} !== "number" && typeof ${v} !== "boolean") return false;\n`;
      case "lit":
        return `if (${v} !== ${JSON.stringify(shape.v)}) return false;\n`;
      case "enum":
        return `if (!${constant(new Set(shape.vs))}.has(${v})) return false;\n`;
      case "null":
        return `if (${v} !== null) {\n${emit(v, shape.of)}}\n`;
      case "opt":
        return `if (${v} !== undefined) {\n${emit(v, shape.of)}}\n`;
      case "arr": {
        const [i, x] = [fresh(), fresh()];
        return `if (!Array.isArray(${v})) return false;\n` +
          `for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {\nconst ${x} = ${v}[${i}];\n${
            emit(x, shape.of)
          }}\n`;
      }
      case "rec": {
        const [key, x] = [fresh(), fresh()];
        return `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return false;\n` +
          `for (const ${key} in ${v}) {\nconst ${x} = ${v}[${key}];\n${emit(x, shape.of)}}\n`;
      }
      case "obj": {
        // Same rule as checkShape: no keys besides the shape's (counted, not looked up).
        const [present, own, key] = [fresh(), fresh(), fresh()];
        let code =
          `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return false;\n` +
          `let ${present} = 0;\n`;
        for (const [name, field] of Object.entries(shape.fields)) {
          const x = fresh();
          code += `const ${x} = ${v}[${JSON.stringify(name)}];\n` +
            `if (${x} !== undefined) ${present}++;\n${emit(x, field)}`;
        }
        return code +
          `let ${own} = 0;\nfor (const ${key} in ${v}) ${own}++;\nif (${own} !== ${present}) return false;\n`;
      }
    }
  }

  const body = emit("value", shape) + "return true;\n";
  const make = new Function("c", `return function matches(value) {\n${body}};`);
  return make(constants) as (value: unknown) => boolean;
}
