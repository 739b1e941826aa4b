// Injection webhook benchmark: a typical pod (2 containers, ~8 KB AdmissionReview) over HTTPS
// keep-alive, against a bare node:https server answering a canned response of the same size,
// both measured in this run. The server runs in a child process pinned to core 0 (`taskset`),
// the load generator here. Reports: p99 latency at a fixed 500 req/s (open loop, latency from
// the scheduled send time to response end for both), closed-loop throughput, and a pod with 2,000
// env vars. Both servers are warmed up first (all keep-alive connections opened, hot paths
// compiled) and then measured in alternating rounds.
// Child mode: `webhook.bench.ts --serve ours|baseline <responseBytes>` prints its port.
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, createServer, request } from "node:https";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { generateCa, generateServingCert } from "../../injector/certs/generate.ts";
import { defaultInjectionConfig } from "../../injector/config.ts";
import { defaultEngine } from "../../injector/webhook/default-engine.ts";
import { makeReview, manyEnvPod, typicalPod } from "../../injector/webhook/review-fixtures.test-support.ts";
import { createInjectorServer } from "../../injector/webhook/server.ts";
import { findCommand } from "../helpers/privileged.ts";
import { median, percentile, report, SMOKE } from "./report.ts";

const self = fileURLToPath(import.meta.url);

async function serve(kind: string, responseBytes: number, key: string, cert: string): Promise<void> {
  let port: number;
  if (kind === "ours") {
    const s = createInjectorServer({
      engine: defaultEngine,
      config: defaultInjectionConfig(),
      tls: { key, cert },
    });
    ({ port } = await s.listen({ port: 0, monitoringPort: 0, host: "127.0.0.1" }));
  } else {
    // The baseline: read the body, answer a fixed JSON body of the same size.
    const canned = Buffer.from(JSON.stringify({ padding: "x".repeat(Math.max(0, responseBytes - 14)) }));
    const server = createServer({ key, cert, keepAliveTimeout: 75_000 }, (req, res) => {
      req.on("data", () => {});
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "application/json; charset=utf-8",
          "content-length": canned.length,
        });
        res.end(canned);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  }
  process.stdout.write(`${port}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

function startServer(kind: string, responseBytes: number, tls: { key: string; cert: string }) {
  const args = ["--import", "tsx", self, "--serve", kind, String(responseBytes)];
  const taskset = findCommand("taskset");
  const child: ChildProcess = taskset
    ? spawn(taskset, ["-c", "0", process.execPath, ...args], { stdio: ["pipe", "pipe", "inherit"] })
    : spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  child.stdin?.write(JSON.stringify(tls));
  return new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    child.stdout?.once("data", (b: Buffer) =>
      resolve({ port: Number(b.toString().trim()), stop: () => child.stdin?.end() }),
    );
    child.once("exit", (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

interface Client {
  send(body: Buffer): Promise<{ status: number; bytes: number }>;
  /** TLS connections opened so far (each one costs the server a full handshake). */
  connections(): number;
  close(): void;
}

function client(port: number, ca: string, sockets: number): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, ca });
  const seen = new WeakSet<object>();
  let opened = 0;
  return {
    send: (body) =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/inject",
            method: "POST",
            agent,
            headers: { "content-type": "application/json", "content-length": body.length },
          },
          (res) => {
            let bytes = 0;
            res.on("data", (c: Buffer) => {
              bytes += c.length;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
          },
        );
        req.on("socket", (socket) => {
          if (seen.has(socket)) return;
          seen.add(socket);
          opened++;
        });
        req.on("error", reject);
        req.end(body);
      }),
    connections: () => opened,
    close: () => agent.destroy(),
  };
}

/** Waits until `due` (a performance.now() time) without ever returning early: a timer for the bulk
 * (timers may fire up to a millisecond early against performance.now()), then immediates. */
async function until(due: number): Promise<void> {
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
  while (performance.now() < due) await new Promise((r) => setImmediate(r));
}

interface OpenLoopResult {
  /** Scheduled send time to response end, ms: the figure reported for ours and the baseline. */
  latencies: number[];
  /** How late each request left the load generator against its schedule, ms (its own lag). */
  sendLag: number[];
}

/** Open loop: one request every 1000/rate ms for `seconds`; latency counts from the scheduled time,
 * and no request leaves before its scheduled time. */
async function fixedRate(c: Client, body: Buffer, rate: number, seconds: number): Promise<OpenLoopResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now() + interval;
  const latencies: number[] = [];
  const sendLag: number[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    await until(due);
    sendLag.push(performance.now() - due);
    pending.push(
      c.send(body).then((r) => {
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return { latencies, sendLag };
}

/** Closed loop: `concurrency` callers sending back to back for `seconds`; returns req/s. */
async function throughput(c: Client, body: Buffer, concurrency: number, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await c.send(body);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        done++;
      }
    }),
  );
  return done / seconds;
}

/**
 * Warm-up, outside every measured window: a closed loop with as many callers as the client has
 * sockets, so every keep-alive TLS connection is opened (handshakes cost the server a 2048-bit RSA
 * signature each) and both ends' hot paths are compiled before the clock starts. Without it the
 * first queue in the open loop made the agent open new connections mid-measurement, whose
 * handshakes queued more requests: that, not the server's steady state, was the p99.
 */
async function warmUp(c: Client, body: Buffer, sockets: number): Promise<void> {
  await throughput(c, body, sockets, SMOKE ? 0.3 : 2);
  if (c.connections() < sockets)
    throw new Error(`warm-up opened ${c.connections()} of ${sockets} connections`);
  // Let both processes finish the garbage of the warm-up before the clock starts.
  await new Promise((r) => setTimeout(r, 200));
}

async function sequential(c: Client, body: Buffer, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await c.send(body);
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const ca = generateCa();
  const serving = generateServingCert({ ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const tls = { key: serving.keyPem, cert: serving.certPem };
  const typical = Buffer.from(JSON.stringify(makeReview(typicalPod())));
  const heavy = Buffer.from(JSON.stringify(makeReview(manyEnvPod(2000))));
  const seconds = SMOKE ? 1 : 5;

  const sockets = 32;
  const rounds = SMOKE ? 1 : 5;

  const ours = await startServer("ours", 0, tls);
  const oursClient = client(ours.port, ca.certPem, sockets);
  // Learn the response sizes for the baseline's canned answers.
  const sample = await oursClient.send(typical);
  const heavySample = await oursClient.send(heavy);
  const base = await startServer("baseline", sample.bytes, tls);
  const baseClient = client(base.port, ca.certPem, sockets);
  await warmUp(oursClient, typical, sockets);
  await warmUp(baseClient, typical, sockets);
  const warmConnections = { ours: oursClient.connections(), baseline: baseClient.connections() };

  // Ours and the baseline take turns in short rounds, so load from other processes on the machine
  // falls on both alike rather than on whichever happened to run second.
  const oursLatency: OpenLoopResult = { latencies: [], sendLag: [] };
  const baseLatency: OpenLoopResult = { latencies: [], sendLag: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [c, into] of [
      [oursClient, oursLatency],
      [baseClient, baseLatency],
    ] as const) {
      const got = await fixedRate(c, typical, 500, seconds / rounds);
      into.latencies.push(...got.latencies);
      into.sendLag.push(...got.sendLag);
    }
  }
  let oursDone = 0;
  let baseDone = 0;
  for (let r = 0; r < rounds; r++) {
    oursDone += (await throughput(oursClient, typical, sockets, seconds / rounds)) * (seconds / rounds);
    baseDone += (await throughput(baseClient, typical, sockets, seconds / rounds)) * (seconds / rounds);
  }
  const oursRps = oursDone / seconds;
  const baseRps = baseDone / seconds;
  // Any connection opened after the warm-up would put a handshake inside a measured window.
  const lateConnections = {
    ours: oursClient.connections() - warmConnections.ours,
    baseline: baseClient.connections() - warmConnections.baseline,
  };
  const oursHeavy = await sequential(oursClient, heavy, SMOKE ? 5 : 50);
  oursClient.close();
  ours.stop();
  baseClient.close();
  base.stop();
  const heavyBase = await startServer("baseline", heavySample.bytes, tls);
  const heavyClient = client(heavyBase.port, ca.certPem, 4);
  await heavyClient.send(heavy);
  const baseHeavy = await sequential(heavyClient, heavy, SMOKE ? 5 : 50);
  heavyClient.close();
  heavyBase.stop();

  const extra = {
    requestBytes: typical.length,
    responseBytes: sample.bytes,
    serverPinned: !!findCommand("taskset"),
  };
  const warmup = `closed loop at concurrency ${sockets} for ${SMOKE ? 0.3 : 2} s per server before any measurement (opens all ${sockets} keep-alive TLS connections, compiles hot paths)`;
  report({
    name: "webhook_p99_latency_at_500rps",
    ours: percentile(oursLatency.latencies, 99),
    baseline: percentile(baseLatency.latencies, 99),
    unit: "ms",
    runs: oursLatency.latencies.length,
    goal: "ours <= 5 ms and ours <= baseline + 3 ms",
    extra: {
      ...extra,
      latencyFrom: "scheduled send time to response end (same for both; no request leaves early)",
      warmup,
      rounds,
      oursP50: median(oursLatency.latencies),
      baselineP50: median(baseLatency.latencies),
      oursP999: percentile(oursLatency.latencies, 99.9),
      baselineP999: percentile(baseLatency.latencies, 99.9),
      // The load generator's own lateness against the schedule (counted in the latencies above).
      oursSendLagP99: percentile(oursLatency.sendLag, 99),
      baselineSendLagP99: percentile(baseLatency.sendLag, 99),
      connectionsOpenedWhileMeasuring: lateConnections,
    },
  });
  report({
    name: "webhook_throughput",
    ours: Math.round(oursRps),
    baseline: Math.round(baseRps),
    unit: "req/s",
    runs: 1,
    goal: "ours >= 2000 req/s on one core and ratio >= 0.25",
    extra: { ...extra, warmup, rounds },
  });
  report({
    name: "webhook_pathological_2000_env_vars",
    ours: median(oursHeavy),
    baseline: median(baseHeavy),
    unit: "ms",
    runs: oursHeavy.length,
    goal: "ours <= 50 ms",
    extra: {
      requestBytes: heavy.length,
      responseBytes: heavySample.bytes,
      oursP99: percentile(oursHeavy, 99),
    },
  });
}

if (process.argv[2] === "--serve") {
  const chunks: Buffer[] = [];
  process.stdin.once("data", (b: Buffer) => {
    chunks.push(b);
    const { key, cert } = JSON.parse(Buffer.concat(chunks).toString()) as { key: string; cert: string };
    void serve(process.argv[3] ?? "ours", Number(process.argv[4] ?? 0), key, cert);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
