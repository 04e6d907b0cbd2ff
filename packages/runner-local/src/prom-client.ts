import { createRequire } from "node:module";
import type * as PromClient from "prom-client";

let loaded: typeof PromClient | undefined;

/**
 * prom-client, loaded when the first metrics are made (a status or probe server starts):
 * it costs about 0.08 s of CPU to load, which a run without a server should not pay.
 * A CommonJS package, so a synchronous require can load it late.
 */
export function promClient(): typeof PromClient {
  loaded ??= createRequire(import.meta.url)("prom-client") as typeof PromClient;
  return loaded;
}
