import type { z } from "zod";
import { formatPath, type ConfigIssue } from "./config.js";
import { didYouMean } from "./suggest.js";

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** The schema under wrappers that do not change the shape of the value (optional, default, transform...). */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(schema);
    if (def.innerType) schema = def.innerType;
    else if (def.type === "pipe" && def.in) schema = defOf(def.in).type === "transform" && def.out ? def.out : def.in;
    else if (def.type === "lazy" && def.getter) schema = def.getter();
    else return schema;
  }
  return schema;
}

/** The object schemas a value at `path` inside `schema` may be checked against. */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[]): Def[] {
  const def = defOf(unwrap(schema));
  if (def.type === "union" && def.options) return def.options.flatMap((option) => objectsAt(option, path));
  if (path.length === 0) return def.type === "object" ? [def] : [];
  const [head, ...rest] = path;
  if (def.type === "object" && def.shape && typeof head === "string" && head in def.shape) return objectsAt(def.shape[head]!, rest);
  if (def.type === "record" && def.valueType) return objectsAt(def.valueType, rest);
  if (def.type === "array" && def.element) return objectsAt(def.element, rest);
  return [];
}

/** The keys an object at `path` inside `schema` may have (for "did you mean" on unknown keys). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((def) => Object.keys(def.shape ?? {})))];
}

/**
 * Keys of `value` that `schema` would drop without a word: keys of a plain `z.object`
 * (which strips what it does not know) that its shape does not name. A typo in a job's
 * config would otherwise fall back silently to the default; reported as issues, each
 * with its path and the key it probably meant.
 */
export function strippedKeys(schema: z.ZodType, value: unknown, prefix: (string | number)[] = []): ConfigIssue[] {
  const def = defOf(unwrap(schema));
  const issues: ConfigIssue[] = [];
  if (value === null || typeof value !== "object") return issues;
  if (def.type === "object" && def.shape && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const known = def.shape[key];
      if (known) issues.push(...strippedKeys(known, inner, [...prefix, key]));
      else if (!def.catchall) {
        issues.push({ path: formatPath([...prefix, key]), code: "unrecognized_keys", message: `unknown key "${key}".${didYouMean(key, Object.keys(def.shape))}` });
      }
    }
  } else if (def.type === "record" && def.valueType && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) issues.push(...strippedKeys(def.valueType, inner, [...prefix, key]));
  } else if (def.type === "array" && def.element && Array.isArray(value)) {
    value.forEach((inner, index) => issues.push(...strippedKeys(def.element!, inner, [...prefix, index])));
  }
  return issues;
}
