// Readiness probe for scripts/kafka.sh, speaking the Kafka wire protocol directly (no npm dependency, so it works
// before `npm install` and for any broker version): ApiVersions v0, then Metadata v4 (supported by 3.x and 4.x;
// 4.0 dropped v0-3). Exits 0 only when the broker has registered and lists itself in metadata, i.e. clients can
// really use it; prints "cluster=ID brokers=..." on stdout, or "probe: <why>" on stderr and exits 1.
// Usage: node scripts/kafka/probe.mjs HOST PORT [TIMEOUT_MS]
import net from "node:net";

const [host, portText, timeoutText = "3000"] = process.argv.slice(2);
const fail = (m) => {
  console.error(`probe: ${m}`);
  process.exit(1);
};
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
  fail(`usage: probe.mjs HOST PORT [TIMEOUT_MS] (got ${JSON.stringify(process.argv.slice(2))})`);
setTimeout(() => fail("timed out"), Number(timeoutText)).unref();

const clientId = Buffer.from("kafka.sh-probe");
const frame = (apiKey, version, corr, body) => {
  const h = Buffer.alloc(10 + clientId.length);
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(version, 2);
  h.writeInt32BE(corr, 4);
  h.writeInt16BE(clientId.length, 8);
  clientId.copy(h, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(h.length + body.length);
  return Buffer.concat([size, h, body]);
};

const sock = net.connect({ host, port });
sock.on("error", (e) => fail(e.code || e.message));
sock.on("close", () => fail("connection closed by broker"));
let buf = Buffer.alloc(0);
const waiting = [];
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
    const n = buf.readInt32BE(0);
    const f = buf.subarray(4, 4 + n);
    buf = buf.subarray(4 + n);
    waiting.shift()(f);
  }
});
const send = (b) =>
  new Promise((res) => {
    waiting.push(res);
    sock.write(b);
  });

sock.on("connect", async () => {
  try {
    // ApiVersions v0 response: correlation_id, error_code, [api_key, min, max]
    const av = await send(frame(18, 0, 1, Buffer.alloc(0)));
    if (av.readInt16BE(4) !== 0) fail(`ApiVersions error ${av.readInt16BE(4)}`);
    const apis = {};
    let o = 10;
    for (let i = av.readInt32BE(6); i > 0; i--, o += 6) apis[av.readInt16BE(o)] = [av.readInt16BE(o + 2), av.readInt16BE(o + 4)];
    const md = apis[3];
    if (!md || md[0] > 4 || md[1] < 4) fail(`broker does not support Metadata v4: ${JSON.stringify(md)}`);
    // Metadata v4 request: topics = null (all), allow_auto_topic_creation = false
    const body = Buffer.alloc(5);
    body.writeInt32BE(-1, 0);
    const r = await send(frame(3, 4, 2, body));
    // response: correlation_id, throttle_time_ms, brokers[node_id, host, port, rack], cluster_id, controller_id, ...
    o = 8;
    const str = () => {
      const l = r.readInt16BE(o);
      o += 2;
      if (l < 0) return null;
      const s = r.toString("utf8", o, o + l);
      o += l;
      return s;
    };
    const brokers = [];
    let count = r.readInt32BE(o);
    o += 4;
    for (; count > 0; count--) {
      const id = r.readInt32BE(o);
      o += 4;
      const brokerHost = str();
      const brokerPort = r.readInt32BE(o);
      o += 4;
      str(); // rack
      brokers.push(`${id}@${brokerHost}:${brokerPort}`);
    }
    const cluster = str();
    if (!brokers.length) fail("broker is up but not registered yet (no brokers in metadata)");
    console.log(`cluster=${cluster} brokers=${brokers.join(",")}`);
    process.exit(0);
  } catch (e) {
    fail(e.message);
  }
});
