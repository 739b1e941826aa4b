// The plugin's log: one line per event to a file (when the config names one) or to stderr, never
// to stdout, which belongs to the CNI result. The file is appended to by concurrent invocations
// (one write per line, O_APPEND) and rotated once it passes a size limit.
import { appendFileSync, renameSync, statSync } from "node:fs";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Rotate the log file to `<file>.1` once it is over this size. */
const MAX_LOG_BYTES = 10 * 1024 * 1024;

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** Context added to every later line, e.g. the command and pod. */
  context: string;
}

export function createLogger(level: LogLevel = "info", file = ""): Logger {
  const min = LOG_LEVELS.indexOf(level);
  let rotated = false;
  const write = (lvl: LogLevel, msg: string) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const line = `${new Date().toISOString()} ${lvl} remora-cni${logger.context ? ` ${logger.context}` : ""}: ${msg}\n`;
    if (file) {
      try {
        if (!rotated && (statSync(file, { throwIfNoEntry: false })?.size ?? 0) > MAX_LOG_BYTES) {
          rotated = true;
          renameSync(file, `${file}.1`);
        }
        appendFileSync(file, line, { mode: 0o600 });
        return;
      } catch {
        // An unwritable log file must not fail the pod: fall back to stderr.
      }
    }
    process.stderr.write(line);
  };
  const logger: Logger = {
    context: "",
    debug: (m) => write("debug", m),
    info: (m) => write("info", m),
    warn: (m) => write("warn", m),
    error: (m) => write("error", m),
  };
  return logger;
}
