// SDS plumbing over real gRPC streams (SotW and delta), with the fake backend and a test secret
// provider: names are answered per connection by the provider that claims them, unclaimed names
// are refused and shown in the sync state, provider changes and secret-only snapshots push SDS
// alone, and an authenticator's verified identity reaches providers (or refuses the stream).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AdsClient, CDS, LDS, SDS } from "../../test/helpers/ads-client.ts";
import { encodeJson } from "../envoy/proto.ts";
import { type EnvoyJson, TYPE_URLS } from "../model/proxy-config.ts";
import { type FakeProxy, type FakeSnapshot, fakeBackend, fakeSnapshot } from "./fake-backend.ts";
import type { PeerIdentity } from "./peer.ts";
import type { SecretProvider, SecretsChanged } from "./secrets.ts";
import { XdsServer } from "./xds-server.ts";

const encoder = (kind: keyof typeof TYPE_URLS, json: Record<string, unknown>) =>
  encodeJson(TYPE_URLS[kind], json);

function caSecret(name: string, text: string): EnvoyJson {
  return { name, validation_context: { trusted_ca: { inline_bytes: Buffer.from(text).toString("base64") } } };
}

/** Serves `test://<x>` names from a map; `test://private` only to verified peers. */
class TestProvider implements SecretProvider<FakeSnapshot, FakeProxy> {
  readonly name = "test";
  content = new Map<string, string>([
    ["test://a", "one"],
    ["test://private", "p"],
  ]);
  seen: PeerIdentity[] = [];
  changed: SecretsChanged<FakeProxy> | undefined;
  claims = (n: string) => n.startsWith("test://");
  attach(changed: SecretsChanged<FakeProxy>) {
    this.changed = changed;
  }
  resolve(q: { peer: PeerIdentity; names: readonly string[] }) {
    this.seen.push(q.peer);
    const secrets: EnvoyJson[] = [caSecret("test://not-asked", "x")];
    const refused = [];
    const pending = [];
    for (const n of q.names) {
      const text = this.content.get(n);
      if (n === "test://private" && !q.peer.verified) {
        refused.push({ name: n, reason: "no_identity", message: "verify first", denied: true });
      } else if (text === undefined) pending.push(n);
      else secrets.push(caSecret(n, text));
    }
    return { secrets, refused, pending };
  }
}

function sdsCount(c: AdsClient): number {
  return c.responses.filter((r) => r.typeUrl === SDS).length;
}

for (const mode of ["sotw", "delta"] as const) {
  describe(`SDS over ${mode} ADS`, () => {
    let server: XdsServer<FakeSnapshot, FakeProxy>;
    let address: string;
    const provider = new TestProvider();
    before(async () => {
      server = new XdsServer({ ...fakeBackend, secretProviders: [provider] }, encoder, {});
      address = `127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
      server.setSnapshot(
        fakeSnapshot([{ host: "svc.default.svc.cluster.local", port: 80, endpoints: [] }], { full: true }),
      );
    });
    after(() => server.close(200));

    test("names are answered by their provider; others are refused or pending, visibly", async () => {
      const c = new AdsClient(address, {
        mode,
        nodeId: "router~127.0.0.1~gw-1.default~default.svc.cluster.local",
      }).start();
      try {
        await c.waitFor(() => c.resources(LDS).size === 1, 10_000, "LDS");
        c.setNames(SDS, ["test://a", "test://b", "test://private", "other://x"]);
        await c.waitFor(() => c.resources(SDS).has("test://a"), 10_000, "SDS");
        await server.idle();
        assert.deepEqual(
          [...c.resources(SDS).keys()],
          ["test://a"],
          "not-asked and refused names are not sent",
        );
        const conn = server.connections()[0];
        assert.ok(conn);
        assert.equal(conn.identity.address, "127.0.0.1");
        const sync = conn.syncState().secret as {
          served: string[];
          refused: { name: string; reason: string }[];
          pending: string[];
        };
        assert.deepEqual(sync.served, ["test://a"]);
        assert.deepEqual(sync.pending, ["test://b"]);
        assert.deepEqual(sync.refused.map((r) => `${r.name} ${r.reason}`).sort(), [
          "other://x unknown_name",
          "test://private no_identity",
        ]);
        const metrics = await server.metrics.registry.metrics();
        assert.match(metrics, /remora_sds_refusals_total\{reason="no_identity"\} 1/);
        assert.match(metrics, /pilot_sds_certificate_errors_total 2/);

        // A provider change (rotation, an issued certificate) is an SDS-only push.
        const before = c.responses.length;
        provider.content.set("test://a", "two");
        provider.content.set("test://b", "now");
        provider.changed?.();
        await c.waitFor(() => c.resources(SDS).size === 2, 10_000, "rotated SDS");
        await server.idle();
        const pushed = c.responses.slice(before);
        assert.deepEqual([...new Set(pushed.map((r) => r.typeUrl))], [SDS], "only SDS was pushed");
        const ca = c.json(SDS, "test://a")?.validationContext as { trustedCa?: { inlineBytes?: string } };
        assert.equal(ca?.trustedCa?.inlineBytes, Buffer.from("two").toString("base64"));

        // A snapshot in which only credential content changed: no translation, SDS only.
        const translated = (await server.metrics.registry.getSingleMetric("remora_translations_total")?.get())
          ?.values[0]?.value;
        const sds = sdsCount(c);
        const n = c.responses.length;
        provider.content.set("test://a", "three");
        server.setSnapshot(
          fakeSnapshot([{ host: "svc.default.svc.cluster.local", port: 80, endpoints: [] }], {
            kinds: new Set(["Secret"]),
            secretsOnly: true,
            ...(server.currentSnapshot ? { basedOn: server.currentSnapshot.version } : {}),
          }),
        );
        await c.waitFor(() => sdsCount(c) > sds, 10_000, "SDS after secret-only snapshot");
        await server.idle();
        assert.deepEqual([...new Set(c.responses.slice(n).map((r) => r.typeUrl))], [SDS]);
        const after = (await server.metrics.registry.getSingleMetric("remora_translations_total")?.get())
          ?.values[0]?.value;
        assert.equal(after, translated, "a secret-only snapshot reuses every translation");
        assert.match(server.pushHistory().at(-1)?.reason ?? "", /secrets/);
      } finally {
        c.close();
      }
    });
  });
}

describe("peer authentication", () => {
  test("a verified identity reaches the providers; a failed one refuses the stream", async () => {
    const provider = new TestProvider();
    const server = new XdsServer({ ...fakeBackend, secretProviders: [provider] }, encoder, {});
    const address = `127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
    server.setSnapshot(fakeSnapshot([], { full: true }));
    server.peerAuthenticator = async (call) => {
      const token = call.metadata.get("authorization")[0];
      if (token === "Bearer bad") throw new Error("token rejected");
      return token ? { namespace: "default", serviceAccount: "gw", method: "token" } : undefined;
    };
    const withToken = (token: string) => ({
      mode: "delta" as const,
      nodeId: "router~127.0.0.1~gw-1.default~default.svc.cluster.local",
      types: [CDS],
      headers: { authorization: token },
    });
    const ok = new AdsClient(address, withToken("Bearer good"));
    const bad = new AdsClient(address, withToken("Bearer bad"));
    try {
      ok.start();
      ok.setNames(SDS, ["test://private"]);
      await ok.waitFor(() => ok.resources(SDS).has("test://private"), 10_000, "private secret");
      assert.equal(provider.seen.at(-1)?.verified?.serviceAccount, "gw");
      bad.start();
      await bad.waitFor(() => bad.error !== undefined, 10_000, "refusal");
      assert.equal(bad.error?.code, grpc.status.UNAUTHENTICATED);
      assert.match(bad.error?.details ?? "", /token rejected/);
    } finally {
      ok.close();
      bad.close();
      await server.close(200);
    }
  });
});
