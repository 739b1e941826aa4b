// Validation mode (`--run-validation`, for pods whose rules the CNI plugin wrote): proves that
// capture really happens in this pod. Listens on the proxy's two capture ports on loopback, then,
// as the proxy uid, dials the inbound-passthrough address 127.0.0.6 (::6) on the probe port.
// Istio's "Envoy to own pod" rule must redirect that to the inbound port: a random token arriving
// on a capture listener proves it (nothing listens on the probe port itself).
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server } from "node:net";

export interface ValidationOptions {
  proxyPort: string;
  inboundCapturePort: string;
  probePort: string;
  timeoutMs: number;
  ipv6: boolean;
  /** Delay between attempts (Istio: 1 s). */
  intervalMs?: number;
}

export interface ValidationResult {
  ok: boolean;
  message: string;
}

function listen(port: number, host: string, onToken: (t: string, port: number) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((sock) => {
      let buf = "";
      sock.setEncoding("utf8");
      sock.on("data", (d: string) => {
        buf += d;
        if (buf.length > 256) sock.destroy();
        if (buf.includes("\n")) {
          onToken(buf.split("\n")[0] as string, port);
          sock.end();
        }
      });
      sock.on("error", () => {});
    });
    srv.once("error", reject);
    srv.listen({ port, host, exclusive: true }, () => resolve(srv));
  });
}

function dial(host: string, port: number, token: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve("timed out");
    }, timeoutMs);
    s.on("connect", () => s.end(`${token}\n`));
    s.on("error", (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Runs the check for each family; ok only when every family's probe was captured. */
export async function validateCapture(o: ValidationOptions): Promise<ValidationResult> {
  const families = o.ipv6
    ? [
        { lo: "127.0.0.1", passthrough: "127.0.0.6" },
        { lo: "::1", passthrough: "::6" },
      ]
    : [{ lo: "127.0.0.1", passthrough: "127.0.0.6" }];
  const deadline = Date.now() + o.timeoutMs;
  const messages: string[] = [];
  for (const f of families) {
    const token = randomBytes(12).toString("hex");
    let arrived: number | undefined;
    const servers: Server[] = [];
    try {
      for (const p of new Set([Number(o.inboundCapturePort), Number(o.proxyPort)])) {
        servers.push(
          await listen(p, f.lo, (t, port) => {
            if (t === token) arrived = port;
          }),
        );
      }
    } catch (e) {
      for (const s of servers) s.close();
      return { ok: false, message: `cannot listen on ${f.lo}: ${(e as Error).message}` };
    }
    let last = "";
    while (arrived === undefined && Date.now() < deadline) {
      const err = await dial(f.passthrough, Number(o.probePort), token, Math.max(100, deadline - Date.now()));
      if (arrived !== undefined) break;
      last = err ?? "connection was not redirected to a capture port";
      await new Promise((r) =>
        setTimeout(r, Math.min(o.intervalMs ?? 1000, Math.max(0, deadline - Date.now()))),
      );
    }
    for (const s of servers) s.close();
    if (arrived === undefined) {
      return {
        ok: false,
        message: `traffic to ${f.passthrough}:${o.probePort} was not captured within ${o.timeoutMs} ms (last: ${last})`,
      };
    }
    messages.push(`${f.passthrough}:${o.probePort} arrived on ${f.lo}:${arrived}`);
  }
  return { ok: true, message: messages.join("; ") };
}
