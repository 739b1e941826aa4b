// Certificates: generated chains verify with Node's X.509 parser, self-signed files are reused,
// mismatched pairs are refused, and rotating the files under load (the way Kubernetes updates a
// secret mount: a `..data` symlink swap) drops no request while clients see the new certificate.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { fakeEngine } from "../webhook/fake-engine.test-support.ts";
import { makeReview, typicalPod } from "../webhook/review-fixtures.test-support.ts";
import { createInjectorServer } from "../webhook/server.ts";
import { CertWatcher, loadTlsFiles } from "./cert-watcher.ts";
import { generateCa, generateServingCert, serviceDnsNames, verifyIssuedBy } from "./generate.ts";
import { ensureSelfSignedTls } from "./self-signed.ts";

const tmp = mkdtempSync(join(tmpdir(), "remora-certs-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ca = generateCa();

describe("certificate generation", () => {
  test("the CA is a CA and the serving certificate chains to it with the service names", () => {
    const caX = new X509Certificate(ca.certPem);
    assert.equal(caX.ca, true);
    const serving = generateServingCert({
      ca,
      dnsNames: serviceDnsNames("remora-injector", "remora-system"),
    });
    const x = new X509Certificate(serving.certPem);
    assert.equal(x.ca, false);
    assert.ok(verifyIssuedBy(serving.certPem, ca.certPem));
    assert.equal(x.checkHost("remora-injector.remora-system.svc"), "remora-injector.remora-system.svc");
    assert.equal(x.checkHost("evil.example.com"), undefined);
    const other = generateCa();
    assert.equal(verifyIssuedBy(serving.certPem, other.certPem), false);
  });

  test("self-signed files are written once and reused while valid", () => {
    const dir = join(tmp, "self");
    const first = ensureSelfSignedTls({ dir, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    assert.equal(first.generated, true);
    const m = loadTlsFiles(first);
    assert.ok(m.ca && verifyIssuedBy(m.cert, m.ca));
    assert.equal(new X509Certificate(m.cert).checkIP("127.0.0.1"), "127.0.0.1");
    const second = ensureSelfSignedTls({ dir });
    assert.equal(second.generated, false);
    assert.equal(loadTlsFiles(second).fingerprint, m.fingerprint);
  });

  test("a key that does not belong to the certificate is refused with both file names", () => {
    const dir = join(tmp, "mismatch");
    mkdirSync(dir);
    const a = generateServingCert({ ca, dnsNames: ["a"] });
    const b = generateServingCert({ ca, dnsNames: ["b"] });
    writeFileSync(join(dir, "tls.crt"), a.certPem);
    writeFileSync(join(dir, "tls.key"), b.keyPem);
    assert.throws(
      () => loadTlsFiles({ certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") }),
      /tls\.key is not the private key of the certificate in .*tls\.crt/,
    );
  });
});

describe("rotation under load", () => {
  test("swapping the mounted files changes the served certificate without failing a request", async () => {
    // A secret-mount layout: tls.crt -> ..data/tls.crt, ..data -> ..<version>/
    const mount = join(tmp, "mount");
    mkdirSync(mount);
    let version = 0;
    const publish = (pair: { certPem: string; keyPem: string }) => {
      const dir = `..v${++version}`;
      mkdirSync(join(mount, dir));
      writeFileSync(join(mount, dir, "tls.crt"), pair.certPem);
      writeFileSync(join(mount, dir, "tls.key"), pair.keyPem);
      symlinkSync(dir, join(mount, "..data_tmp"));
      renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    };
    const names = { dnsNames: ["remora-injector.remora-system.svc"], ipAddresses: ["127.0.0.1"] };
    const pairs = [0, 1, 2, 3].map(() => generateServingCert({ ca, ...names }));
    publish(pairs[0]!);
    symlinkSync("..data/tls.crt", join(mount, "tls.crt"));
    symlinkSync("..data/tls.key", join(mount, "tls.key"));

    const files = { certFile: join(mount, "tls.crt"), keyFile: join(mount, "tls.key") };
    const initial = loadTlsFiles(files);
    const server = createInjectorServer({
      engine: fakeEngine,
      config: fakeEngine.defaultConfig(),
      tls: { key: initial.key, cert: initial.cert },
    });
    let reloads = 0;
    const watcher = new CertWatcher(
      {
        ...files,
        debounceMs: 20,
        pollMs: 200,
        onReload: (m) => {
          reloads++;
          server.setTls(m);
        },
      },
      initial,
    ).start();
    const { port } = await server.listen({ port: 0, monitoringPort: 0, host: "127.0.0.1" });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4, ca: ca.certPem });
    const fresh = new Agent({ keepAlive: false, ca: ca.certPem });
    const body = JSON.stringify(makeReview(typicalPod()));
    const seen = new Set<string>();
    let ok = 0;
    const failures: string[] = [];
    const one = (agent: Agent) =>
      new Promise<void>((resolve) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/inject",
            method: "POST",
            agent,
            servername: "remora-injector.remora-system.svc",
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            const fp = (res.socket as TLSSocket).getPeerX509Certificate?.()?.fingerprint256;
            if (fp) seen.add(fp);
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const review = JSON.parse(Buffer.concat(chunks).toString());
              if (res.statusCode === 200 && review.response?.allowed === true) ok++;
              else failures.push(`HTTP ${res.statusCode}`);
              resolve();
            });
          },
        );
        req.on("error", (err) => {
          failures.push(err.message);
          resolve();
        });
        req.end(body);
      });
    let running = true;
    const load = Promise.all(
      [keepAlive, keepAlive, fresh, fresh].map(async (agent) => {
        while (running) await one(agent);
      }),
    );
    try {
      for (const pair of pairs.slice(1)) {
        await new Promise((r) => setTimeout(r, 150));
        publish(pair);
        const want = new X509Certificate(pair.certPem).fingerprint256;
        const deadline = Date.now() + 5000;
        while (!seen.has(want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(seen.has(want), `clients never saw certificate v${version}`);
      }
    } finally {
      running = false;
      await load;
      watcher.close();
      keepAlive.destroy();
      fresh.destroy();
      await server.close();
    }
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
    assert.ok(reloads >= 3);
  });
});
