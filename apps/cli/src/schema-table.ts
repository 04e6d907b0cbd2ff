type JsonSchema = Record<string, unknown>;

/** One config key of a job type, as `ujr plugins` shows it. */
export interface ConfigKeyRow {
  key: string;
  type: string;
  default: string;
  required: boolean;
  description: string;
}

const SAFE = 9007199254740991;

/** A short type for people: `integer >= 1`, `"a" | "b"`, `string[]`, `number | string`. */
function typeOf(schema: JsonSchema, definitions: Record<string, JsonSchema>): string {
  if (typeof schema.$ref === "string") {
    const target = definitions[schema.$ref.replace(/^#\/(\$defs|definitions)\//, "")];
    return target ? typeOf(target, definitions) : "object";
  }
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  if ("const" in schema) return JSON.stringify(schema.const);
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union)) return [...new Set(union.map((option) => typeOf(option, definitions)))].join(" | ");
  const type = schema.type;
  if (Array.isArray(type)) return type.join(" | ");
  if (type === "array") {
    const items = schema.items as JsonSchema | undefined;
    const inner = items ? typeOf(items, definitions) : "any";
    return inner.includes(" ") ? `(${inner})[]` : `${inner}[]`;
  }
  if (type === "integer" || type === "number") {
    const bounds: string[] = [];
    if (typeof schema.minimum === "number" && schema.minimum > -SAFE) bounds.push(`>= ${schema.minimum}`);
    if (typeof schema.exclusiveMinimum === "number") bounds.push(`> ${schema.exclusiveMinimum}`);
    if (typeof schema.maximum === "number" && schema.maximum < SAFE) bounds.push(`<= ${schema.maximum}`);
    if (typeof schema.exclusiveMaximum === "number") bounds.push(`< ${schema.exclusiveMaximum}`);
    return [type, ...bounds].join(" ");
  }
  if (type === "string" && typeof schema.format === "string") return `string (${schema.format})`;
  if (typeof type === "string") return type;
  return "any";
}

/**
 * The rows of a job type's config table from its JSON Schema: one per key, nested objects
 * flattened to dotted keys (`retry.attempts`), in the schema's order.
 */
export function configRows(schema: JsonSchema): ConfigKeyRow[] {
  const definitions = { ...(schema.definitions as Record<string, JsonSchema> | undefined), ...(schema.$defs as Record<string, JsonSchema> | undefined) };
  const rows: ConfigKeyRow[] = [];
  const walk = (node: JsonSchema, prefix: string, parentRequired: boolean) => {
    const properties = node.properties as Record<string, JsonSchema> | undefined;
    if (!properties) return;
    const required = new Set((node.required as string[] | undefined) ?? []);
    for (const [key, property] of Object.entries(properties)) {
      const path = `${prefix}${key}`;
      const isRequired = parentRequired && required.has(key);
      rows.push({
        key: path,
        type: typeOf(property, definitions),
        default: "default" in property ? JSON.stringify(property.default) : "",
        required: isRequired,
        description: typeof property.description === "string" ? property.description : "",
      });
      if (property.type === "object" && property.properties) walk(property, `${path}.`, isRequired);
    }
  };
  walk(schema, "", true);
  return rows;
}

/** The rows as an aligned text table (the description last, so it may run long). */
export function renderTable(rows: ConfigKeyRow[], indent = ""): string[] {
  if (rows.length === 0) return [`${indent}(no config keys)`];
  const header = { key: "key", type: "type", default: "default", required: "required", description: "description" };
  const cells = [header, ...rows.map((row) => ({ ...row, default: row.default || "-", required: row.required ? "yes" : "no" }))];
  const width = (column: "key" | "type" | "default" | "required") => Math.max(...cells.map((cell) => cell[column].length));
  const widths = { key: width("key"), type: width("type"), default: width("default"), required: width("required") };
  return cells.map((cell) =>
    `${indent}${cell.key.padEnd(widths.key)}  ${cell.type.padEnd(widths.type)}  ${cell.default.padEnd(widths.default)}  ${cell.required.padEnd(widths.required)}  ${cell.description}`.trimEnd(),
  );
}
