/**
 * Named parameters (`:name`) in SQL, translated to the placeholders of each dialect:
 * `?` for SQLite and `$1, $2, ...` for PostgreSQL. String literals, quoted identifiers,
 * comments, dollar-quoted strings and `::` casts are left alone.
 */
export interface CompiledSql {
  sql: string;
  /** Parameter names in placeholder order (Postgres: one per distinct name). */
  names: string[];
}

export function compileNamedParams(sql: string, dialect: "sqlite" | "postgres"): CompiledSql {
  let out = "";
  const names: string[] = [];
  const pgIndex = new Map<string, number>();
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === "`") {
      const end = skipQuoted(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "$" && dialect === "postgres") {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? n : end + tag[0].length;
        out += sql.slice(i, stop);
        i = stop;
      } else {
        out += c;
        i++;
      }
    } else if (c === ":" && next === ":") {
      out += "::";
      i += 2;
    } else if (c === ":" && next !== undefined && /[A-Za-z_]/.test(next)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      const name = m[0];
      if (dialect === "sqlite") {
        names.push(name);
        out += "?";
      } else {
        let idx = pgIndex.get(name);
        if (idx === undefined) {
          names.push(name);
          idx = names.length;
          pgIndex.set(name, idx);
        }
        out += `$${idx}`;
      }
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  return { sql: out, names };
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/** The values in placeholder order; the names of missing parameters in `missing`. */
export function bindValues(names: readonly string[], params: Record<string, unknown>): { values: unknown[]; missing: string[] } {
  const values: unknown[] = [];
  const missing: string[] = [];
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(params, name)) {
      const v = params[name];
      values.push(v === undefined ? null : typeof v === "boolean" ? (v ? 1 : 0) : v);
    } else if (!missing.includes(name)) {
      missing.push(name);
    }
  }
  return { values, missing };
}
