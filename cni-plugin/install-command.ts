// `remora cni install` and `remora cni uninstall`: settings from the defaults, then the
// `remora-cni` ConfigMap file (--config), then flags; the installer and its watch; /readyz; the
// pod-lookup socket (pod-agent.ts); the repair loop; and on SIGTERM or SIGINT, the socket, entry,
// kubeconfig and binaries taken out again.
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import {
  applyCniNodeSettings,
  type CniNodeSettings,
  defaultCniNodeSettings,
  loadCniNodeSettings,
} from "../injector/index.ts";
import { PLUGIN_BUNDLE_PATH } from "./bundle.ts";
import {
  readServiceAccount,
  SERVICE_ACCOUNT_DIR,
  type ServiceAccountCredentials,
} from "./install-kubeconfig.ts";
import { CniInstaller } from "./installer.ts";
import { kubeRequest } from "./kube-request.ts";
import { type KubeConnection, readBounded } from "./kubeconfig.ts";
import { type NodePodCache, type NodePodCacheFactory, PodLookupAgent } from "./pod-agent.ts";
import { repairPass } from "./repair.ts";

export interface CniInstallCommandOptions {
  config?: string;
  cniBinDir?: string;
  cniNetDir?: string;
  hostCniBinDir?: string;
  hostCniNetDir?: string;
  cniConfName?: string;
  excludeNamespaces?: string;
  logLevel?: string;
  pluginLogFile?: string;
  podLookupTimeout?: string;
  agentSocket?: string;
  repair?: string;
  repairInterval?: string;
  healthPort?: string;
  pluginBinary?: string;
  nodeBinary?: string;
  serviceAccountDir?: string;
  nodeName?: string;
  once?: boolean;
}

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** The watch of this node's pods behind the pod-lookup socket (none: no socket is served). */
  podCache?: NodePodCacheFactory;
}

const num = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);

/** Settings from defaults, --config and flags; problems name the flag or key. */
export function settingsFrom(o: CniInstallCommandOptions): { settings: CniNodeSettings; errors: string[] } {
  let settings = defaultCniNodeSettings();
  const errors: string[] = [];
  if (o.config) {
    try {
      const loaded = loadCniNodeSettings(readBounded(o.config, 64 * 1024).toString("utf8"));
      settings = loaded.settings;
      errors.push(...loaded.errors.map((e) => `${o.config}: ${e}`));
    } catch (e) {
      errors.push(`--config: ${(e as Error).message}`);
    }
  }
  const flags: Record<string, unknown> = {
    cniBinDir: o.cniBinDir,
    cniNetDir: o.cniNetDir,
    hostCniBinDir: o.hostCniBinDir,
    hostCniNetDir: o.hostCniNetDir,
    cniConfName: o.cniConfName,
    excludeNamespaces: o.excludeNamespaces
      ?.split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    logLevel: o.logLevel,
    pluginLogFile: o.pluginLogFile,
    podLookupTimeoutSeconds: num(o.podLookupTimeout),
    agentSocket: o.agentSocket,
    repair: o.repair,
    repairIntervalSeconds: num(o.repairInterval),
    healthPort: num(o.healthPort),
  };
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const applied = applyCniNodeSettings(settings, given);
  errors.push(...applied.errors.map((e) => `--${e.replace(/([A-Z])/g, "-$1").toLowerCase()}`));
  return { settings: applied.settings, errors };
}

function makeInstaller(o: CniInstallCommandOptions, settings: CniNodeSettings, io: CommandIo): CniInstaller {
  const saDir = o.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  return new CniInstaller({
    settings,
    pluginBinary: o.pluginBinary ?? PLUGIN_BUNDLE_PATH,
    nodeBinary: o.nodeBinary ?? process.execPath,
    credentials: () => readServiceAccount(saDir, io.env),
    credentialDirs: [saDir],
    log: (l) => io.stderr(`remora cni: ${l}\n`),
  });
}

function connection(c: ServiceAccountCredentials): KubeConnection {
  return { server: c.server, ca: Buffer.from(c.caPem), token: c.token, insecureSkipTlsVerify: false };
}

export async function runCniInstall(o: CniInstallCommandOptions, io: CommandIo): Promise<number> {
  const { settings, errors } = settingsFrom(o);
  const plugin = o.pluginBinary ?? PLUGIN_BUNDLE_PATH;
  if (!existsSync(plugin)) errors.push(`the plugin ${plugin} does not exist (\`npm run build\` creates it)`);
  if (errors.length > 0) {
    for (const e of errors) io.stderr(`remora cni install: ${e}\n`);
    return 2;
  }
  const installer = makeInstaller(o, settings, io);
  if (o.once) {
    const state = installer.reconcile();
    io.stdout(state.ready ? "installed\n" : `not ready: ${state.waiting.join("; ")}\n`);
    return state.ready ? 0 : 1;
  }
  installer.start();

  let server: Server | undefined;
  if (settings.healthPort !== 0) {
    server = createServer((req, res) => {
      const ready = req.url === "/readyz" && installer.state.ready;
      res.writeHead(ready ? 200 : req.url === "/readyz" ? 503 : 404, { "content-type": "text/plain" });
      res.end(ready ? "ready\n" : `${installer.state.waiting.join("\n")}\n`);
    });
    server.listen(settings.healthPort);
  }

  const saDir = o.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const nodeName = o.nodeName ?? io.env.NODE_NAME ?? "";
  let repairTimer: NodeJS.Timeout | undefined;
  if (settings.repair !== "off") {
    if (nodeName === "") {
      io.stderr("remora cni: repair is off: the node name is unknown (set NODE_NAME or --node-name)\n");
    } else {
      let running = false;
      const pass = async () => {
        if (running) return;
        running = true;
        try {
          const r = await repairPass(connection(readServiceAccount(saDir, io.env)), {
            nodeName,
            mode: settings.repair,
            log: (l) => io.stderr(`remora cni: ${l}\n`),
          });
          for (const e of r.errors) io.stderr(`remora cni: repair: ${e}\n`);
        } catch (e) {
          io.stderr(`remora cni: repair: ${(e as Error).message}\n`);
        } finally {
          running = false;
        }
      };
      repairTimer = setInterval(pass, settings.repairIntervalSeconds * 1000);
      void pass();
    }
  }

  const agent = await startPodAgent(settings, saDir, nodeName, io);

  return new Promise((resolve) => {
    const shutdown = async (signal: string) => {
      io.stderr(`remora cni: ${signal}: removing Remora from this node's CNI chain\n`);
      if (repairTimer) clearInterval(repairTimer);
      await agent?.stop();
      installer.stop();
      installer.uninstall();
      server?.close();
      resolve(0);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    process.once("SIGINT", () => void shutdown("SIGINT"));
  });
}

/** Live reads on a cache miss answer within this, before the plugin's own 5 s deadline. */
const LIVE_GET_TIMEOUT_MS = 4_000;

export interface RunningPodAgent {
  agent: PodLookupAgent;
  cache: NodePodCache;
  stop(): Promise<void>;
}

/** Serves the pod-lookup socket when it is configured and the node's pods can be watched. */
export async function startPodAgent(
  settings: CniNodeSettings,
  saDir: string,
  nodeName: string,
  io: CommandIo,
): Promise<RunningPodAgent | undefined> {
  if (settings.agentSocket === "" || !io.podCache) return undefined;
  const log = (l: string) => io.stderr(`remora cni: ${l}\n`);
  if (nodeName === "") {
    log("no pod-lookup socket: the node name is unknown (set NODE_NAME or --node-name)");
    return undefined;
  }
  let server: string;
  try {
    server = readServiceAccount(saDir, io.env).server;
  } catch (e) {
    log(`no pod-lookup socket: ${(e as Error).message}`);
    return undefined;
  }
  const cache = io.podCache({ server, serviceAccountDir: saDir, nodeName, log });
  const agent = new PodLookupAgent({
    socketPath: settings.agentSocket,
    cache,
    liveGet: (namespace, name) =>
      kubeRequest(
        connection(readServiceAccount(saDir, io.env)),
        `/api/v1/namespaces/${namespace}/pods/${name}`,
        { timeoutMs: LIVE_GET_TIMEOUT_MS },
      ),
    log,
  });
  cache.start();
  try {
    await agent.start();
  } catch (e) {
    // The plugin still works without it (its own API lookup); say why it is slower.
    log(`no pod-lookup socket: ${(e as Error).message}`);
    await cache.stop();
    return undefined;
  }
  return {
    agent,
    cache,
    stop: async () => {
      await agent.stop();
      await cache.stop();
    },
  };
}

export function runCniUninstall(o: CniInstallCommandOptions, io: CommandIo): number {
  const { settings, errors } = settingsFrom(o);
  if (errors.length > 0) {
    for (const e of errors) io.stderr(`remora cni uninstall: ${e}\n`);
    return 2;
  }
  const done = makeInstaller(o, settings, io).uninstall();
  io.stdout(done.length === 0 ? "nothing to remove\n" : "removed\n");
  return 0;
}
