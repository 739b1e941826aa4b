// Pre-framed responses go to the wire as they are (no per-stream copy) and arrive intact at a
// real grpc-js client; the pass-through is active with the pinned grpc-js.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { framedSendActive, installFramedSend } from "./framed-send.ts";
import { GrpcFrame, sotwResponseFrame } from "./wire.ts";

test("the pass-through is installed and hands a frame's bytes over without copying", () => {
  assert.equal(installFramedSend(), true, "grpc-js internals changed: update framed-send.ts");
  assert.equal(framedSendActive(), true);
  const require = createRequire(import.meta.url);
  const internal = require(require.resolve("@grpc/grpc-js").replace(/index\.js$/, "server-interceptors.js"));
  const frame = sotwResponseFrame("v1", "t", "n1", []);
  const out = internal.BaseServerInterceptingCall.prototype.serializeMessage.call({}, frame);
  assert.equal(out, frame.bytes, "the same buffer, not a copy");
  assert.equal(out.readUInt32BE(1), frame.message.length);
});

test("frames and plain buffers both arrive intact over a real stream", async () => {
  installFramedSend();
  const def = {
    S: {
      path: "/framed.T/S",
      requestStream: false,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (r: GrpcFrame | Buffer) => (r instanceof GrpcFrame ? r.message : r),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  const shared = sotwResponseFrame("v1", "type.googleapis.com/x", "n1", [Buffer.from([0x12, 0x00])]);
  const server = new grpc.Server();
  server.addService(def as unknown as grpc.ServiceDefinition, {
    S: (call: grpc.ServerWritableStream<Buffer, GrpcFrame | Buffer>) => {
      call.write(shared);
      call.write(Buffer.from("plain"));
      call.write(shared);
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const Client = grpc.makeGenericClientConstructor(def as unknown as grpc.ServiceDefinition, "framed");
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    S(req: Buffer): grpc.ClientReadableStream<Buffer>;
  };
  try {
    const got: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = client.S(Buffer.alloc(0));
      s.on("data", (b: Buffer) => got.push(b));
      s.on("end", resolve);
      s.on("error", reject);
    });
    assert.deepEqual(
      got.map((b) => b.toString("hex")),
      [shared.message, Buffer.from("plain"), shared.message].map((b) => b.toString("hex")),
    );
  } finally {
    client.close();
    server.forceShutdown();
  }
});
