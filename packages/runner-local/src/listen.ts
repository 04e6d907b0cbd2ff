import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { localError } from "./errors.js";

/**
 * Starts an HTTP server (status or probes) on `host:port` and returns the port it got (0:
 * any free port). A port in use or a host that is not this machine's is
 * `UJR_STATUS_LISTEN_FAILED`, with the reason the system gave. The server never keeps a
 * finished process alive.
 */
export async function listenOn(server: Server, host: string, port: number): Promise<number> {
  server.unref();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw localError("UJR_STATUS_LISTEN_FAILED", { host, port, reason }, { cause: error });
  }
  return (server.address() as AddressInfo).port;
}
