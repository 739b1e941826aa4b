// Benchmark support: the in-repo fake API server on its own thread, so requests from many plugin
// processes at once are not queued behind the benchmark's own event loop (spawning, pipes), as a
// real API server would not be. Posts {url, cert, tid} once listening (tid: this thread's id); stops when told "stop".
import { parentPort } from "node:worker_threads";
import { FakeApiServer } from "../fake-apiserver/index.ts";
import { currentThreadId } from "./cpu-groups.ts";

const api = await FakeApiServer.start({ tls: true, namespaces: ["default", "shop"] });
parentPort?.postMessage({ url: api.url, cert: api.tls?.cert ?? "", tid: currentThreadId() });
parentPort?.on("message", async (m: unknown) => {
  if (m === "stop") {
    await api.stop();
    parentPort?.close();
  }
});
