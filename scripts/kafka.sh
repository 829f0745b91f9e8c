#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
# on loopback, for integration tests and local development.
#
# There is no Kafka tarball to download here, only Maven Central, so the broker's
# classpath is resolved with Maven (scripts/kafka/pom.xml) and cached under
# $KAFKA_HOME_DIR/jars-$KAFKA_VERSION. Nothing else needs to be installed but
# Java 17+, Maven and Node (Node is used for the readiness probe).
#
# Usage: scripts/kafka.sh start|stop|reset|status|fetch|logs
#   start   fetch jars if needed, format storage on first use, start the broker in the
#           background and wait until it answers Kafka requests. Idempotent.
#           The last line on stdout is the bootstrap address (e.g. 127.0.0.1:19092);
#           all progress messages go to stderr, so BROKERS=$(scripts/kafka.sh start) works.
#   stop    SIGTERM the broker (SIGKILL after KAFKA_STOP_TIMEOUT s); data is kept, so a
#           later start resumes with the same topics and committed offsets.
#   reset   stop and delete the data dir.
#   status  exit 0 if the broker runs and answers, 1 otherwise.
#   fetch   only download the jars.
#   logs    print the last 100 lines of the broker log.
#
# Environment (defaults in brackets):
#   KAFKA_VERSION          [3.9.2]  any org.apache.kafka:kafka_2.13 version on Maven Central;
#                                   3.x and 4.x are both handled (logging backend differs).
#   KAFKA_PORT             [19092]  client (PLAINTEXT) listener on 127.0.0.1
#   KAFKA_CONTROLLER_PORT  [19093]  KRaft controller listener on 127.0.0.1
#   KAFKA_HOME_DIR         [<repo>/.kafka]  jar cache + default data dirs (gitignored)
#   KAFKA_DATA_DIR         [$KAFKA_HOME_DIR/data-$KAFKA_VERSION]
#   KAFKA_START_TIMEOUT    [90]     seconds to wait for the broker to answer
#   KAFKA_STOP_TIMEOUT     [30]     seconds to wait after SIGTERM before SIGKILL
#   KAFKA_HEAP_OPTS        [-Xms128m -Xmx512m]
#   KAFKA_JVM_OPTS         []       extra JVM flags
#   KAFKA_MVN_OPTS         []       extra Maven flags (e.g. -o for offline)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO/scripts/kafka/pom.xml"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$REPO/.kafka}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_HOME_DIR/data-$KAFKA_VERSION}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_MVN_OPTS="${KAFKA_MVN_OPTS:-}"

HOST=127.0.0.1
BOOTSTRAP="$HOST:$KAFKA_PORT"
MAJOR="${KAFKA_VERSION%%.*}"
JARS_DIR="$KAFKA_HOME_DIR/jars-$KAFKA_VERSION"
LOG_DIRS="$KAFKA_DATA_DIR/kraft"          # Kafka's log.dirs (topic + metadata log)
PID_FILE="$KAFKA_DATA_DIR/broker.pid"
LOG_FILE="$KAFKA_DATA_DIR/broker.log"     # JVM stdout/stderr + all log4j output
PROPS="$KAFKA_DATA_DIR/server.properties"

log() { echo "kafka.sh: $*" >&2; }
die() { echo "kafka.sh: ERROR: $*" >&2; exit 1; }

require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# Serialise concurrent invocations (parallel test workers calling `start` at once
# must not fetch, format or launch twice). The broker itself must NOT inherit fd 9,
# or it would hold the lock for its whole life: see `9>&-` in launch_broker.
take_lock() {
  mkdir -p "$KAFKA_HOME_DIR"
  exec 9>"$KAFKA_HOME_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 600 9 || die "timed out waiting for $KAFKA_HOME_DIR/.lock"
  fi
}

# ---------------------------------------------------------------------------
# Jars
# ---------------------------------------------------------------------------

# Kafka 3.x logs through slf4j 1.7 + log4j 1 (reload4j); 4.x switched to log4j2.
logging_flavour() {
  if [[ "$MAJOR" =~ ^[0-9]+$ ]] && (( MAJOR >= 4 )); then echo log4j2; else echo log4j1; fi
}

jars_present() {
  [[ -f "$JARS_DIR/.complete" && -f "$JARS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

fetch_jars() {
  jars_present && return 0
  require java "install a JDK/JRE 17+, e.g. apt-get install openjdk-17-jre-headless"
  require mvn "install Maven, e.g. apt-get install maven"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies from Maven Central..."
  local started=$SECONDS tmp="$JARS_DIR.tmp.$$"
  rm -rf "$tmp"
  # Download into a temp dir and rename at the end: an interrupted fetch never
  # leaves a half-filled jars dir that would later be taken as complete.
  # Maven's output is kept aside and shown only on failure (with -q it is just
  # stray terminal escape codes when all goes well).
  # shellcheck disable=SC2086  # KAFKA_MVN_OPTS is intentionally word-split
  if ! mvn -q -B $KAFKA_MVN_OPTS -f "$POM" \
      -Dkafka.version="$KAFKA_VERSION" -Dkafka.logging="$(logging_flavour)" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
    cat "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central (is KAFKA_VERSION right?)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "Maven did not produce kafka_2.13-$KAFKA_VERSION.jar"; }
  rm -f "$tmp.mvn.log"
  touch "$tmp/.complete"
  rm -rf "$JARS_DIR"
  mv "$tmp" "$JARS_DIR"
  log "fetched $(find "$JARS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$JARS_DIR" | cut -f1)) into $JARS_DIR in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------
# Config + storage
# ---------------------------------------------------------------------------

write_configs() {
  mkdir -p "$KAFKA_DATA_DIR" "$LOG_DIRS"
  # Rewritten on every start so port/setting changes apply; log.dirs stays the same,
  # so the data (topics, committed offsets) survives stop/start.
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh; edits are overwritten on the next start.
# Single node in KRaft combined mode: this JVM is both the controller and the broker.
process.roles=broker,controller
node.id=1
# A static quorum works for both 3.9 and 4.x (4.x also has dynamic quorums via
# controller.quorum.bootstrap.servers + format --standalone; not needed for one node).
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$LOG_DIRS

# One replica of everything: there is only one broker.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

# Fast tests: few internal partitions (the first consumer group / transaction waits
# for these to be created and loaded), no initial rebalance delay.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1

# After a crash (or the SIGKILL fallback of "kafka.sh stop") the restarted broker cannot
# register until the old registration's session expires (DUPLICATE_BROKER_REGISTRATION):
# 9 s by default. A shorter session makes crash-restart tests ~5 s faster.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4500

# Keep disk and memory small: 16 MiB segments, small index files, 1 h / 64 MiB
# retention per partition, a small log-cleaner buffer (default 128 MiB of heap).
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.ms=3600000
log.retention.bytes=67108864
log.retention.check.interval.ms=60000
offsets.topic.segment.bytes=16777216
transaction.state.log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=8388608
log.cleaner.threads=1

# 2-core machines: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
EOF
  if [[ "$(logging_flavour)" == log4j2 ]]; then
    # Kafka 4.x only: share-group state topic also defaults to 3 replicas.
    cat >>"$PROPS" <<'EOF'

# Kafka 4.x: share-group state topic also defaults to 3 replicas.
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
    # Everything to stdout, which launch_broker appends to broker.log.
    cat >"$KAFKA_DATA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  else
    cat >"$KAFKA_DATA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
EOF
  fi
}

logging_jvm_flag() {
  if [[ "$(logging_flavour)" == log4j2 ]]; then
    echo "-Dlog4j2.configurationFile=file:$KAFKA_DATA_DIR/log4j2.properties"
  else
    echo "-Dlog4j.configuration=file:$KAFKA_DATA_DIR/log4j.properties"
  fi
}

# A Kafka Uuid is 16 random bytes in unpadded base64url (22 chars). Generated here
# instead of `StorageTool random-uuid` to save a JVM start. Like Kafka's own
# Uuid.randomUuid(), avoid a leading '-' (it would look like a CLI flag).
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && ${#id} -eq 22 ]] && { echo "$id"; return; }
  done
}

# KRaft refuses to start on an unformatted log dir. Format once; later starts reuse it.
# `format -t ID -c props` is accepted by both 3.9 and 4.x when controller.quorum.voters
# is set (4.x's --standalone is only for dynamic quorums / controller.quorum.bootstrap.servers).
# --ignore-formatted makes a retry after a crash between format and start harmless.
format_storage() {
  [[ -f "$LOG_DIRS/meta.properties" ]] && return 0
  local cluster_id
  if [[ -s "$KAFKA_DATA_DIR/cluster.id" ]]; then
    cluster_id="$(cat "$KAFKA_DATA_DIR/cluster.id")"
  else
    cluster_id="$(new_cluster_id)"
    echo "$cluster_id" >"$KAFKA_DATA_DIR/cluster.id"
  fi
  log "formatting KRaft storage in $LOG_DIRS (cluster id $cluster_id)"
  # shellcheck disable=SC2086
  java $KAFKA_HEAP_OPTS "$(logging_jvm_flag)" -cp "$JARS_DIR/*" kafka.tools.StorageTool \
    format -t "$cluster_id" -c "$PROPS" --ignore-formatted >>"$LOG_FILE" 2>&1 \
    || { tail -n 50 "$LOG_FILE" >&2; die "kafka-storage format failed (log: $LOG_FILE)"; }
}

# ---------------------------------------------------------------------------
# Process management
# ---------------------------------------------------------------------------

# The pid from the pid file, if that process is alive and really is our broker
# (guards against a stale pid file whose pid was reused by something else).
# If the pid file is gone (e.g. the data dir was deleted under a running broker), fall
# back to the process whose command line names exactly this data dir's server.properties.
broker_pid() {
  local pid=""
  [[ -f "$PID_FILE" ]] && pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
      && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS"; then
    echo "$pid"
    return 0
  fi
  pid="$(pgrep -f -x -- ".*java .* kafka\.Kafka ${PROPS//./\\.}" | head -n 1 || true)"
  [[ -n "$pid" ]] || return 1
  echo "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Readiness probe speaking the Kafka wire protocol directly (scripts/kafka/probe.mjs: no npm
# dependency, so it works before `npm install` and for any broker version). Succeeds only when
# the broker has registered and lists itself in metadata, i.e. clients can really use it.
probe() {
  node "$REPO/scripts/kafka/probe.mjs" "$HOST" "$KAFKA_PORT"
}

launch_broker() {
  # Keep the previous run's log for post-mortems; start a fresh one.
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $HOST:$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA_DIR)"
  format_storage
  # setsid: own session, so the broker survives the calling shell / test runner and a
  # Ctrl-C in that terminal does not hit it. stdin from /dev/null and output to the log
  # file so no pipe of the caller stays open (a `$(kafka.sh start)` would hang otherwise).
  # 9>&- : do not pass the lock fd on (see take_lock).
  # shellcheck disable=SC2086
  setsid java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "$(logging_jvm_flag)" -Dkafka.logs.dir="$KAFKA_DATA_DIR" $KAFKA_JVM_OPTS \
    -cp "$JARS_DIR/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  echo $! >"$PID_FILE"
}

# Poll until the broker answers, it dies, or the timeout passes.
wait_ready() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT)) out
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- last 50 lines of $LOG_FILE ----" >&2; tail -n 50 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      die "Kafka $KAFKA_VERSION exited during start-up (see $LOG_FILE)"
    fi
    if out="$(probe 2>/dev/null)"; then
      log "ready: $out"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      echo "---- last 50 lines of $LOG_FILE ----" >&2; tail -n 50 "$LOG_FILE" >&2
      log "last probe: $(probe 2>&1 || true)"
      stop_broker
      die "Kafka $KAFKA_VERSION did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; stopped it (log: $LOG_FILE)"
    fi
    sleep 0.5
  done
}

stop_broker() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running ($KAFKA_DATA_DIR)"
    return 0
  fi
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then
      log "still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      # The process is gone once /proc says so; zombie-free since we are not its parent.
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
  require java "install a JDK/JRE 17+, e.g. apt-get install openjdk-17-jre-headless"
  require node "Node is needed for the readiness probe"
  take_lock
  local pid
  if pid="$(broker_pid)"; then
    # Already running (maybe still starting up, e.g. another worker launched it).
    wait_ready "$pid"
    echo "$BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on $HOST is already in use by another process (a broker of another KAFKA_VERSION / KAFKA_DATA_DIR? stop it with the same env, or set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
  done
  fetch_jars
  write_configs
  local started=$SECONDS
  launch_broker
  wait_ready "$(cat "$PID_FILE")"
  log "started in $((SECONDS - started))s"
  echo "$BOOTSTRAP"
}

cmd_stop() {
  take_lock
  stop_broker
}

cmd_reset() {
  take_lock
  stop_broker
  # Guard against deleting something unexpected through a bad KAFKA_DATA_DIR.
  [[ -n "$KAFKA_DATA_DIR" && "$KAFKA_DATA_DIR" != "/" && "$KAFKA_DATA_DIR" != "$REPO" && "$KAFKA_DATA_DIR" != "$HOME" ]] \
    || die "refusing to delete KAFKA_DATA_DIR=$KAFKA_DATA_DIR"
  rm -rf "$KAFKA_DATA_DIR"
  log "deleted $KAFKA_DATA_DIR"
}

cmd_status() {
  local pid out
  if pid="$(broker_pid)" && out="$(probe 2>&1)"; then
    log "running: Kafka $KAFKA_VERSION pid $pid on $BOOTSTRAP ($out)"
    echo "$BOOTSTRAP"
    return 0
  fi
  if [[ -n "${pid:-}" ]]; then
    log "process $pid is alive but not answering on $BOOTSTRAP (${out:-})"
  else
    log "not running (Kafka $KAFKA_VERSION, $KAFKA_DATA_DIR)"
  fi
  return 1
}

cmd_fetch() {
  take_lock
  fetch_jars
  echo "$JARS_DIR"
}

cmd_logs() {
  [[ -f "$LOG_FILE" ]] || die "no log at $LOG_FILE"
  tail -n 100 "$LOG_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  status) cmd_status ;;
  fetch) cmd_fetch ;;
  logs) cmd_logs ;;
  *)
    echo "usage: $0 start|stop|reset|status|fetch|logs   (env: KAFKA_VERSION, KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_HOME_DIR, KAFKA_DATA_DIR, ...)" >&2
    exit 2
    ;;
esac
