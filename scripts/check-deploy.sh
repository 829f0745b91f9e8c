#!/usr/bin/env bash
# Checks the monitoring and deployment files under deploy/ with Prometheus' own tool:
#   1. promtool check rules   deploy/prometheus/rules/*.yaml
#   2. promtool test rules    deploy/prometheus/tests/*.yaml   (each alert fires on its failure, not on health)
#   3. promtool check config  deploy/prometheus/prometheus.yml
#   4. promtool check metrics on a live /metrics scrape: of the URL given as $1, or else of the service's
#      own ops server started in-process (src/ops/http.ts) with one sample in every metric.
#   5. kubectl kustomize deploy/k8s, when kubectl is installed (YAML and kustomization build; no cluster).
# The Grafana dashboard, compose file and k8s manifests are checked structurally by test/unit/deploy.
#
# Usage: scripts/check-deploy.sh [METRICS_URL]     e.g. scripts/check-deploy.sh http://127.0.0.1:9464/metrics
# Needs promtool (Debian: apt-get install -y --no-install-recommends prometheus) and `npm ci` done.
# Exits non-zero on the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

die() { echo "check-deploy: FAILED: $*" >&2; exit 1; }
step() { echo "== $*"; }

command -v promtool >/dev/null || die "promtool not found (Debian: apt-get install -y --no-install-recommends prometheus)"

step "promtool check rules"
promtool check rules deploy/prometheus/rules/*.yaml || die "alerting rules"

step "promtool test rules"
promtool test rules deploy/prometheus/tests/*.yaml || die "alerting rule unit tests"

step "promtool check config"
promtool check config deploy/prometheus/prometheus.yml || die "prometheus.yml"

# Lint findings promtool reports on prom-client's default Node metrics (gauges named *_total). Those names
# are prom-client's, not ours; every other finding fails the check.
KNOWN_DEFAULT_METRIC_LINTS='^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$'

scrape_in_process() {
  [[ -x node_modules/.bin/tsx ]] || die "node_modules/.bin/tsx missing: run npm ci first"
  # tsx -e compiles to CommonJS (no top-level await), hence the async wrapper and dynamic imports.
  node_modules/.bin/tsx -e '
    void (async () => {
      const { Counter, Gauge, Histogram } = await import("prom-client");
      const { createMetrics } = await import(process.cwd() + "/src/telemetry/metrics.ts");
      const { createOpsServer } = await import(process.cwd() + "/src/ops/http.ts");
      const { createLogger } = await import(process.cwd() + "/src/telemetry/logger.ts");
      const metrics = createMetrics({ defaultMetrics: true });
      // One sample in every metric, so each family is exposed with its labels.
      for (const metric of Object.values(metrics)) {
        const labels = Object.fromEntries((metric.labelNames ?? []).map((name) => [name, "sample"]));
        if (metric instanceof Counter) metric.inc(labels, 1);
        else if (metric instanceof Gauge) metric.set(labels, 1);
        else if (metric instanceof Histogram) metric.observe(labels, 0.2);
      }
      const app = createOpsServer({ host: "127.0.0.1", port: 0, registry: metrics.registry, notReady: () => [], logger: createLogger("silent"), bodyLimitBytes: 1048576 });
      const address = await app.listen({ host: "127.0.0.1", port: 0 });
      try {
        const res = await fetch(address + "/metrics");
        if (!res.ok) throw new Error("GET /metrics answered " + res.status);
        process.stdout.write(await res.text());
      } finally {
        await app.close();
      }
    })().catch((err) => { console.error(err); process.exit(1); });
  '
}

step "promtool check metrics (${1:-in-process ops server})"
scrape="$(mktemp)"
trap 'rm -f "$scrape"' EXIT
if [[ $# -ge 1 ]]; then
  curl -fsS --max-time 10 "$1" > "$scrape" || die "could not scrape $1"
else
  scrape_in_process > "$scrape" || die "could not start the ops server and scrape /metrics"
fi
# promtool accepts empty input, so make sure the scrape is ours.
grep -q '^# TYPE triage_ready gauge$' "$scrape" || die "the scrape has no triage_ready metric: not the triage /metrics endpoint?"
set +e
lint="$(promtool check metrics < "$scrape" 2>&1)"
status=$?
set -e
# 0 = clean, 3 = lint findings (filtered below); anything else is a parse error.
if [[ $status -ne 0 && $status -ne 3 ]]; then
  echo "$lint" >&2
  die "promtool could not parse the scrape (exit $status)"
fi
unexpected="$(printf '%s\n' "$lint" | grep -v -E "$KNOWN_DEFAULT_METRIC_LINTS" | grep -v '^$' || true)"
if [[ -n "$unexpected" ]]; then
  echo "$unexpected" >&2
  die "promtool check metrics found problems"
fi
echo "  SUCCESS: $(grep -c '^# TYPE ' "$scrape") metric families, $(grep -c '^# TYPE triage_' "$scrape") of them triage_*"

if command -v kubectl >/dev/null; then
  step "kubectl kustomize deploy/k8s"
  kubectl kustomize deploy/k8s > /dev/null || die "deploy/k8s does not build"
  echo "  SUCCESS"
else
  step "kubectl not installed: deploy/k8s is checked by test/unit/deploy only"
fi

echo "check-deploy: all checks passed"
