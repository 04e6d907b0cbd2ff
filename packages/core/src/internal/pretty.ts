import { Transform, type TransformCallback } from "node:stream";

const levelNames: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const levelColors: Record<number, string> = { 10: "90", 20: "36", 30: "32", 40: "33", 50: "31", 60: "35" };
const hidden = new Set(["level", "time", "msg", "pid", "hostname", "name", "v"]);

/**
 * Turns pino's JSON lines into one readable line each: `12:00:01 INFO  message key=value`.
 * Small and dependency-free on purpose: it runs in the CLI and in every worker.
 */
export class PrettyTransform extends Transform {
  readonly #colors: boolean;
  #pending = "";

  constructor(options: { colors: boolean }) {
    super();
    this.#colors = options.colors;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.#pending + chunk.toString();
    const lines = text.split("\n");
    this.#pending = lines.pop() ?? "";
    for (const line of lines) if (line) this.push(this.format(line) + "\n");
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pending) this.push(this.format(this.#pending) + "\n");
    callback();
  }

  format(line: string): string {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    const level = typeof record.level === "number" ? record.level : 30;
    const time = typeof record.time === "string" ? record.time.slice(11, 19) : new Date().toISOString().slice(11, 19);
    const label = (levelNames[level] ?? String(level)).padEnd(5);
    const fields: string[] = [];
    let errorText = "";
    for (const [key, value] of Object.entries(record)) {
      if (hidden.has(key)) continue;
      if ((key === "err" || key === "error") && value && typeof value === "object") {
        const error = value as { message?: string; code?: string };
        errorText = `\n    ${error.code ? `${error.code}: ` : ""}${error.message ?? ""}`;
        continue;
      }
      fields.push(`${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    }
    const message = typeof record.msg === "string" ? record.msg : "";
    const rest = fields.length ? ` ${this.paint("90", fields.join(" "))}` : "";
    return `${this.paint("90", time)} ${this.paint(levelColors[level] ?? "0", label)} ${message}${rest}${errorText}`;
  }

  paint(code: string, text: string): string {
    return this.#colors ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}
