import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Logger } from "../telemetry/logger.js";

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Names of components that are not ready; empty = ready. */
  notReady: () => string[];
  logger: Logger;
  bodyLimitBytes: number;
}

/** Longest a caller may take to send one whole request (headers and body); the handler's own time is not counted. */
export const REQUEST_RECEIVE_TIMEOUT_MS = 60_000;

/** HTTP server for /metrics, /healthz (alive) and /readyz (consumer joined, producer connected, caches open). */
export function createOpsServer(opts: OpsServerOptions): FastifyInstance {
  // Request logs are noise (scrapes every few seconds): the http logger starts at warn.
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: "http" }, { level: "warn" }) as FastifyBaseLogger,
    bodyLimit: opts.bodyLimitBytes,
    // Fastify's default 0 lets a caller trickle a request forever (one socket each); Node's own bound for receiving it.
    requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS,
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const waiting = opts.notReady();
    return reply.code(waiting.length === 0 ? 200 : 503).send({ status: waiting.length === 0 ? "ready" : "not_ready", waiting });
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", opts.registry.contentType);
    return opts.registry.metrics();
  });
  return app;
}
