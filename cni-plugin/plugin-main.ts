// The remora-cni executable's entry (bundled by esbuild into dist/cni/remora-cni): reads the
// network config from stdin (bounded), runs the command, writes the result or the error result
// to stdout and exits. Logs never go to stdout.
import { setFlagsFromString } from "node:v8";
import { runPlugin } from "./plugin.ts";
import { CniError, CODES, CURRENT_VERSION } from "./protocol.ts";

/** Network configs with a prevResult are a few KiB; anything near this is not a config. */
const MAX_STDIN_BYTES = 1024 * 1024;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    process.stdin.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_STDIN_BYTES) {
        process.stdin.destroy();
        reject(
          new CniError(
            CODES.decodingFailure,
            `the network config on stdin is larger than ${MAX_STDIN_BYTES} bytes`,
          ),
        );
        return;
      }
      chunks.push(c);
    });
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", (e) =>
      reject(new CniError(CODES.ioFailure, `error reading from stdin: ${e.message}`)),
    );
  });
}

function finish(stdout: string, code: number): void {
  // Exit as soon as the answer is written: an idle keep-alive socket must not hold the runtime up.
  if (stdout === "") process.exit(code);
  process.stdout.write(stdout, () => process.exit(code));
}

async function main(): Promise<void> {
  // A process that lives a fraction of a second gains nothing from V8 tidying its young generation
  // while it waits for iptables; on a node starting many pods at once that idle-time collection
  // costs more CPU than the rest of the wait. (Allocation still collects when it must.)
  setFlagsFromString("--no-minor-gc-task");
  if (!process.env.CNI_COMMAND) {
    process.stderr.write(
      "remora-cni: Remora's chained CNI plugin (CNI spec 0.3.0 to 1.1.0); run by a container runtime\n",
    );
  }
  let stdin: string;
  try {
    stdin = await readStdin();
  } catch (e) {
    const err = e as CniError;
    finish(`${JSON.stringify(err.toResult(CURRENT_VERSION))}\n`, 1);
    return;
  }
  const out = await runPlugin(process.env, stdin);
  finish(out.stdout, out.exitCode);
}

void main();
