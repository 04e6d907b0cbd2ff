import { afterEach, describe, expect, it } from "vitest";
import { request } from "node:http";
import { Writable } from "node:stream";
import { createLogger } from "@ujr/core";
import { createHostCheck, parseHostHeader } from "./host-check.js";
import { LocalJobsRunner } from "./local-runner.js";
import { startStatusServer, type StatusServer } from "./status-server.js";

describe("createHostCheck", () => {
  it("without a token accepts loopback names (with the server's port or none) and refuses other names", () => {
    const allowed = createHostCheck({ port: 9464, bindHost: "127.0.0.1" });
    for (const host of ["localhost:9464", "127.0.0.1:9464", "[::1]:9464", "LOCALHOST:9464", "localhost.:9464", "localhost", undefined]) expect(allowed(host), String(host)).toBe(true);
    for (const host of ["attacker.example:9464", "attacker.example", "localhost:80", "127.0.0.1:9465", "127.0.0.1.attacker.example:9464", "", "local host", "[::1"]) {
      expect(allowed(host), host).toBe(false);
    }
  });

  it("accepts the bind address and runner.status.allowedHosts; with a token or \"*\" any Host", () => {
    const allowed = createHostCheck({ port: 8080, bindHost: "192.168.1.20", allowedHosts: ["status.internal", "box.lan:8080", "fd00::5"] });
    for (const host of ["192.168.1.20:8080", "status.internal:8080", "status.internal", "box.lan:8080", "[fd00::5]:8080"]) expect(allowed(host), host).toBe(true);
    expect(allowed("box.lan:9000")).toBe(false);
    expect(allowed("other.lan:8080")).toBe(false);
    expect(createHostCheck({ port: 8080, bindHost: "0.0.0.0" })("0.0.0.0:8080")).toBe(false);
    expect(createHostCheck({ port: 8080, token: true })("anything.example")).toBe(true);
    expect(createHostCheck({ port: 8080, allowedHosts: ["*"] })("anything.example")).toBe(true);
  });

  it("parses Host headers", () => {
    expect(parseHostHeader("Example.ORG:80")).toEqual({ name: "example.org", port: 80 });
    expect(parseHostHeader("[::1]")).toEqual({ name: "[::1]", port: undefined });
    expect(parseHostHeader("a:b:c")).toBeUndefined();
  });
});

const servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function get(port: number, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/status", headers: { host, ...headers } }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the status server and the Host header (DNS rebinding)", () => {
  it("without a token answers loopback Hosts and refuses others with 403 and a warning naming the fix", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) });
    const runner = new LocalJobsRunner({ jobs: [], workers: 1, isolation: "thread", handleSignals: false, logLevel: "silent" });
    const server = await startStatusServer(runner, { port: 0, logger });
    servers.push(server);
    expect((await get(server.port, `localhost:${server.port}`)).status).toBe(200);
    expect((await get(server.port, `127.0.0.1:${server.port}`)).status).toBe(200);
    const refused = await get(server.port, `rebind.attacker.example:${server.port}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toBe("forbidden: this Host is not allowed; add it to runner.status.allowedHosts (or set runner.status.token)\n");
    expect(refused.body).not.toContain('"jobs"');
    await get(server.port, `rebind.attacker.example:${server.port}`);
    const warnings = lines.filter((line) => line.includes("status server refused"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Host \\"rebind.attacker.example:${server.port}\\" (not a name of this machine): add it to runner.status.allowedHosts, or set runner.status.token`);
  });

  it("answers names listed in allowedHosts; with a token, any Host that brings the token", async () => {
    const runner = new LocalJobsRunner({ jobs: [], workers: 1, isolation: "thread", handleSignals: false, logLevel: "silent" });
    const listed = await startStatusServer(runner, { port: 0, allowedHosts: ["status.internal"] });
    servers.push(listed);
    expect((await get(listed.port, `status.internal:${listed.port}`)).status).toBe(200);
    const withToken = await startStatusServer(runner, { port: 0, token: "s3cret-token" });
    servers.push(withToken);
    expect((await get(withToken.port, "anywhere.example")).status).toBe(401);
    expect((await get(withToken.port, "anywhere.example", { authorization: "Bearer s3cret-token" })).status).toBe(200);
  });
});
