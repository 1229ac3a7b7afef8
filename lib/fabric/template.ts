/** Values for a config template's `${NAME}` placeholders. */
export type TemplateValues = Record<string, string | number | boolean>;

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces every `${NAME}` in text with values[NAME].
 * @throws if a placeholder has no value (all missing names in one error), or a value spans
 *   lines (it would inject config lines).
 */
export function fillTemplate(text: string, values: TemplateValues, source = "template"): string {
  const missing = new Set<string>();
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (!Object.hasOwn(values, match[1])) missing.add(match[1]);
  }
  if (missing.size > 0) {
    throw new Error(`cannot fill ${source}: no value for ${[...missing].join(", ")}`);
  }
  for (const [name, value] of Object.entries(values)) {
    if (/[\r\n]/.test(String(value))) {
      throw new Error(`cannot fill ${source}: value of ${name} spans lines`);
    }
  }
  return text.replaceAll(PLACEHOLDER, (_, name: string) => String(values[name]));
}

/** The repository's config/ directory, where the shipped templates live. */
export function defaultConfigDir(): string {
  return new URL("../../config/", import.meta.url).pathname;
}

/** Reads config/<name> from configDir and fills it. */
export async function renderTemplateFile(
  configDir: string,
  name: string,
  values: TemplateValues,
): Promise<string> {
  const path = `${configDir.replace(/\/$/, "")}/${name}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`cannot read config template "${path}": ${(error as Error).message}`);
  }
  return fillTemplate(text, values, path);
}
