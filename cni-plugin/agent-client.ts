// The plugin's side of the node agent's pod-lookup socket: one HTTP/1.1 GET over the Unix socket,
// written by hand, and its answer read with a size cap and a deadline.
//
// Why not node:http: loading it costs about 18 ms of CPU per ADD (measured against this exchange
// over node:net, which stdin already loads), more than the lookup itself; on a node starting 20
// pods at once that is paid 20 times. The other end is always the agent's own node:http server
// (pod-agent.ts), whose answers have a Content-Length and close the connection, so the client
// needs no chunked decoding or keep-alive; anything else is refused as "agent unavailable".
import { connect } from "node:net";

/** Request path prefix: `/v1/pods/<namespace>/<name>`. */
export const AGENT_POD_PATH = "/v1/pods/";

/** A pod is at most ~1.5 MiB in etcd; an answer far over that is not a pod. */
export const MAX_AGENT_ANSWER_BYTES = 4 * 1024 * 1024;

export interface AgentAnswer {
  status: number;
  /** Parsed JSON body, or undefined when it is not JSON. */
  body: unknown;
  text: string;
}

/** No usable answer: socket absent or refused, deadline passed, cut off or malformed. */
export class AgentUnavailable extends Error {
  override name = "AgentUnavailable";
}

const HEAD_END = Buffer.from("\r\n\r\n");

function parse(raw: Buffer, socketPath: string): AgentAnswer {
  const end = raw.indexOf(HEAD_END);
  if (end < 0) throw new AgentUnavailable(`${socketPath}: the answer has no complete header`);
  const head = raw.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
  if (!m) throw new AgentUnavailable(`${socketPath}: not an HTTP answer`);
  let length = -1;
  for (const line of head.slice(1)) {
    const c = line.indexOf(":");
    const key = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (key === "content-length") length = /^\d{1,10}$/.test(value) ? Number(value) : -2;
    if (key === "transfer-encoding") throw new AgentUnavailable(`${socketPath}: unexpected ${line}`);
  }
  const bodyBytes = raw.subarray(end + HEAD_END.length);
  if (length !== bodyBytes.length) {
    throw new AgentUnavailable(
      `${socketPath}: answer body has ${bodyBytes.length} bytes, Content-Length says ${length < 0 ? "nothing valid" : length}`,
    );
  }
  const text = bodyBytes.toString("utf8");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: Number(m[1]), body, text };
}

/**
 * Asks the agent for one pod. Rejects with AgentUnavailable when there is no usable answer; an
 * answer of any status (404: the API server does not know the pod; 503: the agent cannot reach
 * the API server) resolves.
 */
export function askAgent(
  socketPath: string,
  namespace: string,
  name: string,
  timeoutMs: number,
  maxBytes = MAX_AGENT_ANSWER_BYTES,
): Promise<AgentAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (err: Error | undefined, answer?: AgentAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err)
        reject(err instanceof AgentUnavailable ? err : new AgentUnavailable(`${socketPath}: ${err.message}`));
      else resolve(answer as AgentAnswer);
    };
    const sock = connect(socketPath);
    const timer = setTimeout(
      () => done(new AgentUnavailable(`${socketPath}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on("error", (e) => done(e));
    sock.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        done(new AgentUnavailable(`${socketPath}: answer is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    sock.on("end", () => {
      try {
        done(undefined, parse(Buffer.concat(chunks), socketPath));
      } catch (e) {
        done(e as Error);
      }
    });
    // Written, not ended: the server closes after its answer (Connection: close).
    sock.write(
      `GET ${AGENT_POD_PATH}${namespace}/${name} HTTP/1.1\r\nHost: remora-cni-agent\r\nAccept: application/json\r\nUser-Agent: remora-cni\r\nConnection: close\r\n\r\n`,
    );
  });
}
