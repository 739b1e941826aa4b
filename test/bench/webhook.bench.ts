// Injection webhook benchmark: a typical pod (2 containers, ~8 KB AdmissionReview) over HTTPS
// keep-alive, against a bare node:https server answering a canned response of the same size,
// both measured in this run. The server runs in a child process pinned to core 0 (`taskset`),
// the load generator here. Reports: p99 latency at a fixed 500 req/s (open loop, latency from
// the scheduled send time), closed-loop throughput, and a pod with 2,000 env vars.
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
  close(): void;
}

function client(port: number, ca: string, sockets: number): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, ca });
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
        req.on("error", reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

/** Open loop: one request every 1000/rate ms for `seconds`; latency counts from the scheduled time. */
async function fixedRate(c: Client, body: Buffer, rate: number, seconds: number): Promise<number[]> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now();
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      c.send(body).then((r) => {
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return latencies;
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

  const ours = await startServer("ours", 0, tls);
  const oursClient = client(ours.port, ca.certPem, 32);
  // Warm up (JIT, TLS sessions) and learn the response size for the baseline.
  const sample = await oursClient.send(typical);
  const heavySample = await oursClient.send(heavy);
  await throughput(oursClient, typical, 8, SMOKE ? 0.3 : 1);
  const oursLatency = await fixedRate(oursClient, typical, 500, seconds);
  const oursRps = await throughput(oursClient, typical, 32, seconds);
  const oursHeavy = await sequential(oursClient, heavy, SMOKE ? 5 : 50);
  oursClient.close();
  ours.stop();

  const base = await startServer("baseline", sample.bytes, tls);
  const baseClient = client(base.port, ca.certPem, 32);
  await baseClient.send(typical);
  await throughput(baseClient, typical, 8, SMOKE ? 0.3 : 1);
  const baseLatency = await fixedRate(baseClient, typical, 500, seconds);
  const baseRps = await throughput(baseClient, typical, 32, seconds);
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
  report({
    name: "webhook_p99_latency_at_500rps",
    ours: percentile(oursLatency, 99),
    baseline: percentile(baseLatency, 99),
    unit: "ms",
    runs: oursLatency.length,
    goal: "ours <= 5 ms and ours <= baseline + 3 ms",
    extra: { ...extra, oursP50: median(oursLatency), baselineP50: median(baseLatency) },
  });
  report({
    name: "webhook_throughput",
    ours: Math.round(oursRps),
    baseline: Math.round(baseRps),
    unit: "req/s",
    runs: 1,
    goal: "ours >= 2000 req/s on one core and ratio >= 0.25",
    extra,
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
