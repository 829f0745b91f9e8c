import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { openCaches } from "../../../src/resources/cache.js";
import { connectRedis } from "../../../src/resources/redis.js";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(onConnection: (s: Socket) => void): Promise<Server> {
  const server = createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return server;
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Accepts connections and never answers (a firewall or a hung Redis). */
async function blackHole(): Promise<number> {
  return portOf(await listen((s) => void sockets.push(s)));
}

const connectors = {
  "openCaches (Keyv caches)": (url: string, timeoutMs: number) => openCaches(url, { connectTimeoutMs: timeoutMs }),
  "connectRedis (quotas, locks)": (url: string, timeoutMs: number) => connectRedis(url, { connectTimeoutMs: timeoutMs }),
};

describe.each(Object.entries(connectors))("%s with an unreachable CACHE_URL", (_name, connect) => {
  it.each([
    ["a closed port", closedPort],
    ["a black hole that accepts and never answers", blackHole],
  ])("fails within the connect timeout for %s, naming CACHE_URL without its password", async (_kind, target) => {
    const port = await target();
    const url = `redis://triage:hunter2-secret@127.0.0.1:${port}/3`;
    const started = performance.now();
    const err = await connect(url, 400).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    const elapsedMs = performance.now() - started;
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe("cache_unreachable");
    expect(err!.message).toContain("CACHE_URL");
    expect(err!.message).toContain(`redis://triage:***@127.0.0.1:${port}/3`);
    expect(err!.message).toContain("400 ms");
    expect(err!.message).not.toContain("hunter2");
    expect(JSON.stringify(err)).not.toContain("hunter2");
    expect(elapsedMs).toBeGreaterThanOrEqual(350);
    expect(elapsedMs).toBeLessThan(3000);
  });
});
