import { readFileSync } from "node:fs";
import { ujrError } from "@ujr/core";
import { parse as parseYaml } from "yaml";

/** The plugin specifiers a config's jobs name, read leniently (the file may have other mistakes). */
export function pluginsNamedIn(file: string): Array<{ specifier: string; path: string }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") throw ujrError("UJR_CONFIG_NOT_FOUND", { path: file });
    throw ujrError("UJR_CONFIG_UNREADABLE", { path: file, reason: (error as Error).message });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    // parse() leaves prettyErrors on, which fills linePos with the real position.
    const pos = (error as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0] ?? { line: 1, col: 1 };
    throw ujrError("UJR_CONFIG_YAML", { file, line: pos.line, col: pos.col, reason: (error as Error).message.split("\n")[0] });
  }
  const jobs = (document as { jobs?: unknown } | null)?.jobs;
  const found = new Map<string, string>();
  if (jobs && typeof jobs === "object") {
    for (const [name, job] of Object.entries(jobs)) {
      const specifier = (job as { plugin?: unknown } | null)?.plugin;
      if (typeof specifier === "string" && specifier && !found.has(specifier)) found.set(specifier, `jobs.${name}.plugin`);
    }
  }
  return [...found].map(([specifier, path]) => ({ specifier, path }));
}
