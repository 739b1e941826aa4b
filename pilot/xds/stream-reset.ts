// Resets the HTTP/2 stream under a grpc-js server call. A gRPC status is sent after the stream's
// queued data, so for a client that does not read (its flow-control window is shut) the status
// never leaves and the stream, with the responses queued on it, lives on. RST_STREAM is not
// flow-controlled: ENHANCE_YOUR_CALM ends the stream at once, and gRPC clients report it as
// RESOURCE_EXHAUSTED. grpc-js has no public hook for this, so its call's stream is looked up
// where grpc-js keeps it; if a grpc-js change moves it, nothing is reset (the status still waits
// behind the data) and test/e2e/xds-abuse.test.ts fails first.
import http2 from "node:http2";

interface WithStream {
  call?: { stream?: http2.Http2Stream };
}

/** Resets the call's HTTP/2 stream; returns false when the stream cannot be found. */
export function resetCallStream(
  call: unknown,
  code: number = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM,
): boolean {
  const stream = (call as WithStream | undefined)?.call?.stream;
  if (!stream || typeof stream.close !== "function") return false;
  if (!stream.destroyed && !stream.closed) stream.close(code);
  return true;
}
