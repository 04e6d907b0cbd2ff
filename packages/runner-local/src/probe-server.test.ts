import { afterEach, describe, expect, it } from "vitest";
import { startProbeServer, type ProbeServer } from "./probe-server.js";

const servers: ProbeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("probe server", () => {
  it("answers /healthz 200 while healthy, 503 with the state otherwise, and /metrics with its gauges", async () => {
    let state = "ok";
    let running = 2;
    const server = await startProbeServer({ port: 0, health: () => state, gauges: { ujr_test_running: { help: "Running.", value: () => running } } });
    servers.push(server);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    state = "stopping";
    const stopping = await fetch(`${server.url}/healthz`);
    expect(stopping.status).toBe(503);
    expect(await stopping.text()).toBe("stopping\n");
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^ujr_test_running 2$/m);
    running = 0;
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^ujr_test_running 0$/m);
    expect((await fetch(`${server.url}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("reports a port in use as UJR_STATUS_LISTEN_FAILED", async () => {
    const first = await startProbeServer({ port: 0, health: () => "ok" });
    servers.push(first);
    await expect(startProbeServer({ port: Number(new URL(first.url).port), health: () => "ok" })).rejects.toMatchObject({ code: "UJR_STATUS_LISTEN_FAILED" });
  });
});
