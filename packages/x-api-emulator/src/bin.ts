#!/usr/bin/env node
import { parseArgs } from "node:util";
import { isEmulatorError } from "./errors.js";
import { startEmulator, type EmulatorOptions } from "./server.js";

const USAGE = `Usage: x-api-emulator [--port 8080] [--host 127.0.0.1] [--corpus file.jsonl ...] [--token T ...]
                      [--rate-limit N] [--window-ms MS] [--latency-ms MS]

A local Twitter API v2 server over twarc2 JSONL pages (the bundled sample when no --corpus).
Default token: test-token. Prints the base URL, then serves until interrupted.`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string", default: "8080" },
        host: { type: "string", default: "127.0.0.1" },
        corpus: { type: "string", multiple: true },
        token: { type: "string", multiple: true },
        "rate-limit": { type: "string" },
        "window-ms": { type: "string" },
        "latency-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  let options: EmulatorOptions;
  try {
    options = { port: num("port", values.port) ?? 8080, host: values.host };
    if (values.corpus?.length) options.corpus = values.corpus;
    if (values.token?.length) options.bearerToken = values.token;
    const limit = num("rate-limit", values["rate-limit"]);
    const windowMs = num("window-ms", values["window-ms"]);
    if (limit !== undefined || windowMs !== undefined) {
      options.rateLimit = { ...(limit === undefined ? {} : { limit }), ...(windowMs === undefined ? {} : { windowMs }) };
    }
    const latency = num("latency-ms", values["latency-ms"]);
    if (latency !== undefined) options.latencyMs = latency;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const emulator = await startEmulator(options);
    const s = emulator.stats().corpus;
    console.log(emulator.url);
    console.error(`x-api-emulator: ${s.tweets} tweets, ${s.users} users from ${s.pages} pages; try ${emulator.url}/2/tweets/search/recent?query=brexit`);
    const stop = (): void => {
      void emulator.close().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    return -1;
  } catch (err) {
    if (isEmulatorError(err)) {
      console.error(`${err.code}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
