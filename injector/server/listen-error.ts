// Turns a listener that cannot start (port in use, no permission, an address this machine does
// not have) into one sentence naming the address, what it was for and the flag that changes it,
// instead of Node's or grpc-js's raw error ("No address added out of total 1 resolved").

/** What a listener is for; commands map each to the flag that sets its port. */
export type ListenerRole = "xds" | "http" | "webhook" | "monitoring" | "secure";

const ROLE_NAMES: Record<ListenerRole, string> = {
  xds: "xDS (gRPC)",
  http: "health, metrics and debug (HTTP)",
  webhook: "the admission webhooks (HTTPS)",
  monitoring: "the webhook's metrics (HTTP)",
  secure: "the CSR API and authenticated xDS (TLS)",
};

export class ListenError extends Error {
  constructor(
    readonly role: ListenerRole,
    readonly host: string,
    readonly port: number,
    readonly reason: string,
    /** True when the address, not the port, is the problem (the fix is --host). */
    readonly hostProblem: boolean,
  ) {
    super(`cannot listen on ${hostPort(host, port)} for ${ROLE_NAMES[role]}: ${reason}`);
    this.name = "ListenError";
  }

  /** The message plus the flag that fixes it, e.g. `…; choose another port with --grpc-port`. */
  withFlag(portFlags: Partial<Record<ListenerRole, string>>, hostFlag = "--host"): string {
    if (this.hostProblem) return `${this.message}; change ${hostFlag}`;
    const flag = portFlags[this.role];
    const hint = this.reason.includes("in use") ? "free it or choose another port" : "choose another port";
    return flag ? `${this.message}; ${hint} with ${flag}` : this.message;
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function classify(err: unknown, host: string, port: number): { reason: string; hostProblem: boolean } {
  const e = err as NodeJS.ErrnoException;
  const text = `${e?.code ?? ""} ${e?.message ?? String(err)}`;
  if (/EADDRINUSE/.test(text)) return { reason: "the port is already in use", hostProblem: false };
  if (/EACCES/.test(text)) {
    return {
      reason: port < 1024 ? "permission denied (ports below 1024 need privileges)" : "permission denied",
      hostProblem: false,
    };
  }
  if (/EADDRNOTAVAIL/.test(text))
    return { reason: `${host} is not an address of this machine`, hostProblem: true };
  if (/ENOTFOUND|EAI_AGAIN|Name resolution failed/.test(text)) {
    return { reason: `cannot resolve ${host}`, hostProblem: true };
  }
  return { reason: e?.message ?? String(err), hostProblem: false };
}

/** Runs `start` (which binds host:port); a failure becomes a ListenError. */
export async function listening<T>(
  role: ListenerRole,
  host: string,
  port: number,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof ListenError) throw err;
    const { reason, hostProblem } = classify(err, host, port);
    throw new ListenError(role, host, port, reason, hostProblem);
  }
}
