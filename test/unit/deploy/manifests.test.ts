import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { durationMs, memoryBytes, optionNames, readRepoFile, readYaml, root, secretOptionNames } from "./support.js";

// Docker and a cluster are not available where the tests run, so the compose file and the Kubernetes
// manifests are checked structurally, against the service's own config schema and HTTP routes.

const opsRoutes = readRepoFile("src/ops/http.ts");
const sorted = (names: Iterable<string>) => [...names].sort();

describe("deploy/compose.yaml", () => {
  const compose = readYaml("deploy/compose.yaml");
  const { kafka, triage, prometheus, grafana } = compose.services;
  const env = triage.environment as Record<string, string>;

  it("runs Kafka, topic creation, triage, Prometheus and Grafana", () => {
    expect(sorted(Object.keys(compose.services))).toEqual(["grafana", "kafka", "kafka-init", "prometheus", "triage"]);
    expect(kafka.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
    expect(compose.services["kafka-init"].image).toBe(kafka.image);
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d/);
    expect(grafana.image).toMatch(/^grafana\/grafana:\d/);
  });

  it("runs Kafka as one KRaft node that advertises the address triage connects to", () => {
    const k = kafka.environment as Record<string, string>;
    expect(k.KAFKA_PROCESS_ROLES).toBe("broker,controller");
    expect(k.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${k.KAFKA_NODE_ID}@kafka:9093`);
    expect(String(k.KAFKA_ADVERTISED_LISTENERS).split(",")).toContain(`PLAINTEXT://${env.KAFKA_BROKERS}`);
    for (const [name, value] of Object.entries(k)) if (name.endsWith("_REPLICATION_FACTOR") || name.endsWith("_MIN_ISR")) expect(value, name).toBe("1");
  });

  it("creates the topics triage reads and writes before starting it", () => {
    const script = compose.services["kafka-init"].command.join("\n") as string;
    for (const topic of [env.TRIAGE_INPUT_TOPIC, env.TRIAGE_OUTPUT_TOPIC, env.TRIAGE_DLQ_TOPIC]) expect(script).toContain(topic);
    expect(triage.depends_on["kafka-init"].condition).toBe("service_completed_successfully");
    expect(compose.services["kafka-init"].depends_on.kafka.condition).toBe("service_healthy");
  });

  it("builds triage from the repository's Dockerfile", () => {
    expect(existsSync(join(root, "deploy", triage.build.context, triage.build.dockerfile))).toBe(true);
    expect(join(root, "deploy", triage.build.context)).toBe(join(root, "."));
  });

  it("configures triage with valid options only, keys coming from .env", () => {
    for (const name of Object.keys(env)) expect(optionNames, name).toContain(name);
    for (const name of secretOptionNames) expect(env, name).not.toHaveProperty(name);
    expect(() => loadConfig(env)).not.toThrow();
    expect(triage.env_file).toEqual([{ path: ".env", required: false }]);
    const example = readRepoFile("deploy/.env.example");
    expect(sorted(example.match(/^[A-Z_]+(?==)/gm) ?? [])).toEqual(sorted(secretOptionNames));
    expect(readRepoFile("deploy/.gitignore").split("\n")).toContain(".env");
  });

  it("publishes HTTP_PORT on loopback only, keeps the SQLite cache on a volume and outlasts SHUTDOWN_TIMEOUT_MS on stop", () => {
    const config = loadConfig(env);
    expect(triage.ports).toEqual([`127.0.0.1:${config.HTTP_PORT}:${config.HTTP_PORT}`]);
    const [volume, mountPath] = (triage.volumes as string[])[0]!.split(":");
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(config.CACHE_URL.startsWith(`sqlite://${mountPath}/`)).toBe(true);
    expect(durationMs(triage.stop_grace_period)).toBeGreaterThan(config.SHUTDOWN_TIMEOUT_MS);
  });

  it("mounts only files that exist in deploy/", () => {
    for (const service of Object.values(compose.services) as { volumes?: string[] }[]) {
      for (const source of (service.volumes ?? []).map((v) => v.split(":")[0]!).filter((s) => s.startsWith("."))) {
        expect(existsSync(join(root, "deploy", source)), source).toBe(true);
      }
    }
  });
});

describe("deploy/k8s", () => {
  const kustomization = readYaml("deploy/k8s/kustomization.yaml");
  const resources = (kustomization.resources as string[]).map((file) => ({ file, doc: readYaml(`deploy/k8s/${file}`) }));
  const byKind = (kind: string) => {
    const found = resources.filter((r) => r.doc.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!.doc;
  };
  const deployment = byKind("Deployment");
  const configMap = byKind("ConfigMap");
  const secret = byKind("Secret");
  const service = byKind("Service");
  const pdb = byKind("PodDisruptionBudget");
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const env = { ...configMap.data, ...secret.stringData } as Record<string, string>;

  it("lists manifests that each hold one named object", () => {
    for (const { file, doc } of resources) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
    }
  });

  it("configures the service with valid options: strings in the ConfigMap, secrets only in the Secret", () => {
    for (const [name, value] of Object.entries(configMap.data)) {
      expect(typeof value, name).toBe("string");
      if (name !== "NODE_OPTIONS") expect(optionNames, name).toContain(name);
      expect(secretOptionNames, name).not.toContain(name);
    }
    expect(sorted(Object.keys(secret.stringData))).toEqual(sorted(secretOptionNames));
    for (const [name, value] of Object.entries(secret.stringData)) expect(value, `${name} must stay a placeholder`).toBe("");
    // The placeholder leaves the API closed (401); the file says the token must be set.
    expect(readRepoFile("deploy/k8s/secret.yaml")).toMatch(/HTTP_AUTH_TOKEN must be set/);
    expect(() => loadConfig(env)).not.toThrow();
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }, { secretRef: { name: secret.metadata.name } }]);
  });

  it("probes /healthz for liveness and /readyz for readiness on the metrics port", () => {
    const port = container.ports.find((p: { name: string }) => p.name === "metrics");
    expect(port.containerPort).toBe(loadConfig(env).HTTP_PORT);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(opsRoutes).toContain('app.get("/healthz"');
    expect(opsRoutes).toContain('app.get("/readyz"');
  });

  it("gives a graceful shutdown at least 10 s more than SHUTDOWN_TIMEOUT_MS before SIGKILL", () => {
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(loadConfig(env).SHUTDOWN_TIMEOUT_MS + 10_000);
  });

  it("runs as non-root on a read-only root filesystem, the SQLite cache on an emptyDir", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    const mounts = new Map<string, string>(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
    const cacheDir = /^sqlite:\/\/(\/.+)\/[^/]+$/.exec(loadConfig(env).CACHE_URL)?.[1];
    expect(cacheDir).toBe("/var/lib/triage");
    expect(mounts.has("/tmp")).toBe(true);
    for (const path of [cacheDir!, "/tmp"]) {
      const volume = pod.volumes.find((v: { name: string }) => v.name === mounts.get(path));
      expect(volume?.emptyDir, path).toBeDefined();
    }
  });

  it("requests memory for ~256 MB RSS, with a limit above the V8 heap ceiling", () => {
    const { requests, limits } = container.resources;
    expect(memoryBytes(requests.memory)).toBeGreaterThanOrEqual(256 * 1024 ** 2);
    expect(memoryBytes(limits.memory)).toBeGreaterThan(memoryBytes(requests.memory));
    expect(requests.cpu).toBeTruthy();
    expect(limits.cpu).toBeTruthy();
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(configMap.data.NODE_OPTIONS)?.[1]);
    expect(heapMb * 1024 ** 2).toBeLessThan(memoryBytes(limits.memory));
  });

  it("exposes the metrics port for Prometheus through the Service", () => {
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: "metrics", port: loadConfig(env).HTTP_PORT, targetPort: "metrics", protocol: "TCP" }]);
    expect(service.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(loadConfig(env).HTTP_PORT),
      "prometheus.io/path": "/metrics",
    });
  });

  it("lets voluntary disruptions take one pod at a time", () => {
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.replicas).toBeGreaterThan(1);
  });
});
