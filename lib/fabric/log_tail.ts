/** The last `lines` lines of a text file, or a note saying why there are none. */
export async function tailFile(path: string, lines = 25): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `(no log at ${path})`;
    return `(cannot read log ${path}: ${(error as Error).message})`;
  }
  const all = text.trimEnd().split("\n");
  const tail = all.slice(-lines).map((line) => line.slice(0, 400));
  if (tail.length === 0 || (tail.length === 1 && tail[0] === "")) return `(log ${path} is empty)`;
  return `--- last ${tail.length} lines of ${path} ---\n${tail.join("\n")}`;
}
