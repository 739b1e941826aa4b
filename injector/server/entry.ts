// Lazy entry points for other folders: the webhook server pulls in fastify, prom-client and
// node-forge, which commands that never serve webhooks should not pay for at start-up.
import type { RunningInjector, StartInjectorOptions } from "./run-injector.ts";

/** Starts the injection webhook (see run-injector.ts); loads the server code on first use. */
export async function startInjector<C = unknown, M = unknown>(
  options: StartInjectorOptions<C, M>,
): Promise<RunningInjector<C, M>> {
  const m = await import("./run-injector.ts");
  return m.startInjector(options);
}

/** The lower-level server factory, loaded on demand. */
export async function loadInjectorServer() {
  return import("../webhook/server.ts");
}
