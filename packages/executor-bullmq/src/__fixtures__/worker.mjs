// A worker process for the tests and the benchmark: what `ujr worker` does.
import { runWorker } from "../../dist/index.js";

const env = process.env;
const number = (value) => (value === undefined ? undefined : Number(value));
const handle = await runWorker({
  redis: env.REDIS_URL ?? "redis://127.0.0.1:6379",
  queue: env.UJR_QUEUE,
  workers: number(env.UJR_WORKERS) ?? 2,
  isolation: env.UJR_ISOLATION ?? "thread",
  concurrency: number(env.UJR_CONCURRENCY),
  lockDuration: number(env.UJR_LOCK_MS),
  stalledInterval: number(env.UJR_STALLED_MS),
  shutdownGrace: number(env.UJR_GRACE_MS),
  logLevel: env.UJR_LOG_LEVEL ?? "warn",
});
process.stdout.write("ready\n");
await handle.closed;
