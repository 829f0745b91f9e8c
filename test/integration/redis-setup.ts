// Global setup: the Redis the integration tests use, TEST_REDIS_URL (default redis://127.0.0.1:6379). It must answer
// PING here, or the run fails at once naming the URL: Redis-backed tests fail loudly, they never skip.
// Tests read the URL with `redisUrl()` from ./support.js (inject("redisUrl")).
import type { TestProject } from "vitest/node";
import { connectRedisClient } from "../../src/resources/redis-connect.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export const DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379";

export default async function setup(project: TestProject) {
  const url = process.env.TEST_REDIS_URL?.trim() || DEFAULT_TEST_REDIS_URL;
  let client: Awaited<ReturnType<typeof connectRedisClient>>;
  try {
    client = await connectRedisClient(url, { connectTimeoutMs: 5_000 });
  } catch (err) {
    throw new Error(`Integration tests need a real Redis at TEST_REDIS_URL (default ${DEFAULT_TEST_REDIS_URL}) and none answered: ${(err as Error).message}`);
  }
  await client.quit();
  project.provide("redisUrl", url);
}
