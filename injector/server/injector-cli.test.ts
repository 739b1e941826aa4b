// `remora injector` as a real process: self-generated certificate (CA path logged), readiness,
// an injection over TLS verified against that CA, a config file change applied without a
// restart, a broken config file keeping the last good config, metrics, clean SIGTERM exit.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { spawnRemora } from "../../test/helpers/cli.ts";
import { makeReview, typicalPod } from "../webhook/review-fixtures.test-support.ts";

const tmp = mkdtempSync(join(tmpdir(), "remora-injector-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Review {
  response: { allowed: boolean; patch: string };
}

function post(port: number, ca: string, body: string): Promise<{ status: number; json: Review }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/inject",
        method: "POST",
        ca,
        servername: "remora-injector.remora-system.svc",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function proxyImage(review: Review): string | undefined {
  const ops = JSON.parse(Buffer.from(review.response.patch, "base64").toString()) as { value?: unknown }[];
  const m = /envoyproxy\/envoy:[\w.-]+|example\.com\/proxy:[\w.-]+/.exec(JSON.stringify(ops));
  return m?.[0];
}

test("remora injector serves, reloads its config and stops cleanly", async () => {
  const config = join(tmp, "injection.yaml");
  writeFileSync(config, "images:\n  proxy: example.com/proxy:v1\n");
  const certDir = join(tmp, "certs");
  const child = spawnRemora([
    "injector",
    "--port",
    "0",
    "--monitoring-port",
    "0",
    "--host",
    "127.0.0.1",
    "--cert-dir",
    certDir,
    "--inject-config",
    config,
  ]);
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  try {
    const deadline = Date.now() + 60_000;
    const listening = /listening on https:\/\/127\.0\.0\.1:(\d+)\/inject, metrics on :(\d+)/;
    let m = listening.exec(out);
    while (!m) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`injector did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
      m = listening.exec(out);
    }
    const port = Number(m[1]);
    const monitoringPort = Number(m[2]);
    assert.match(out, new RegExp(`CA written to ${certDir.replace(/[/.]/g, "\\$&")}/ca\\.crt`));
    const ca = readFileSync(join(certDir, "ca.crt"), "utf8");
    const body = JSON.stringify(makeReview(typicalPod()));

    const first = await post(port, ca, body);
    assert.equal(first.status, 200);
    assert.equal(first.json.response.allowed, true);
    assert.equal(proxyImage(first.json), "example.com/proxy:v1");

    writeFileSync(config, "images:\n  proxy: example.com/proxy:v2\n");
    let image: string | undefined;
    for (let i = 0; i < 100 && image !== "example.com/proxy:v2"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      image = proxyImage((await post(port, ca, body)).json);
    }
    assert.equal(image, "example.com/proxy:v2", "the config change applies without a restart");

    writeFileSync(config, "images: [not, a, mapping\n");
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(
      proxyImage((await post(port, ca, body)).json),
      "example.com/proxy:v2",
      "a broken file keeps the last good config",
    );
    assert.match(out, /keeping the previous configuration/);

    const metrics = await new Promise<string>((resolve, reject) => {
      get(`http://127.0.0.1:${monitoringPort}/metrics`, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => resolve(text));
      }).on("error", reject);
    });
    assert.match(metrics, /sidecar_injection_success_total\{revision="default"\} [1-9]/);
  } finally {
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    assert.equal(code, 0, out.slice(-2000));
  }
});
