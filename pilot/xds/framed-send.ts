// Lets pre-framed responses (GrpcFrame) reach the HTTP/2 stream without a copy. grpc-js frames
// every outgoing message by allocating a new buffer of length + 5 and copying the message into
// it; for a full config (about 1 MB for a thousand services) sent to a thousand reconnecting
// proxies that is a gigabyte of fresh memory per storm, and its page faults and GCs show up as
// event-loop stalls. Responses here are encoded once per content and shared between streams, so
// they are built with the header already in front and handed over as they are.
//
// grpc-js has no public hook for this, so its server call's serializeMessage is wrapped: a
// GrpcFrame passes through, anything else takes the original path. If the method is missing (a
// grpc-js change), nothing is wrapped and responses are still correct: the service definition's
// serializer unwraps the frame and grpc-js copies as before. `framedSendActive` reports which.
import { createRequire } from "node:module";
import { GrpcFrame } from "./wire.ts";

type Serialize = (this: unknown, value: unknown) => Buffer;

let state: "unknown" | "active" | "unavailable" = "unknown";

/** Installs the pass-through once per process; returns whether frames skip the copy. */
export function installFramedSend(): boolean {
  if (state !== "unknown") return state === "active";
  state = "unavailable";
  try {
    const require = createRequire(import.meta.url);
    // The same module instance grpc-js itself loads (resolved through its package).
    const grpcMain = require.resolve("@grpc/grpc-js");
    const internal = require(grpcMain.replace(/index\.js$/, "server-interceptors.js")) as {
      BaseServerInterceptingCall?: { prototype: { serializeMessage?: Serialize } };
    };
    const proto = internal.BaseServerInterceptingCall?.prototype;
    const original = proto?.serializeMessage;
    if (!proto || typeof original !== "function") return false;
    proto.serializeMessage = function serializeMessage(this: unknown, value: unknown): Buffer {
      return value instanceof GrpcFrame ? value.bytes : original.call(this, value);
    };
    state = "active";
  } catch {
    // Leave grpc-js as it is: the definition's serializer handles frames either way.
  }
  return state === "active";
}

export function framedSendActive(): boolean {
  return state === "active";
}
