// The VM's systemd unit, written as data: each command is an argument list, quoted by systemd's
// own rules (no shell runs it), so nothing in it is ever interpreted by a shell. The capture is
// set up before Envoy starts and removed after it stops, both with full privileges (`+`), while
// Envoy itself runs as the proxy uid the capture rules let through.
import { VM_PATHS } from "./vm-paths.ts";

/**
 * One ExecStart argument: bare when it has only plain characters, otherwise double-quoted with
 * `\` and `"` escaped; `%` (specifiers) and `$` (variable expansion) are doubled either way.
 */
export function systemdArg(a: string): string {
  const escaped = a.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (a !== "" && /^[A-Za-z0-9_@%+=:,./*-]+$/.test(a)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function command(argv: readonly string[]): string {
  for (const a of argv) {
    if (/[\n\r\0]/.test(a))
      throw new Error(`a systemd command argument may not hold a line break: ${JSON.stringify(a)}`);
  }
  return argv.map(systemdArg).join(" ");
}

export interface UnitOptions {
  description: string;
  envoy: string;
  remora: string;
  iptablesArgs: readonly string[];
}

export function systemdUnit(o: UnitOptions): string {
  const uid = String(VM_PATHS.proxyUid);
  const lines = [
    "[Unit]",
    `Description=${o.description.replace(/[\n\r]/g, " ")}`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `User=${uid}`,
    `Group=${uid}`,
    // gRPC's token exchange verifies pilot with gRPC's default roots: point them at the mesh root.
    `Environment=${systemdArg(`GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=${VM_PATHS.rootCert}`)}`,
    `ExecStartPre=+${command([o.remora, "iptables", ...o.iptablesArgs])}`,
    `ExecStart=${command([
      o.envoy,
      "-c",
      VM_PATHS.bootstrap,
      "--log-level",
      "warning",
      "--drain-time-s",
      "45",
      "--disable-hot-restart",
    ])}`,
    `ExecStopPost=+${command([o.remora, "iptables", "--cleanup-only"])}`,
    "Restart=always",
    "RestartSec=5",
    "LimitNOFILE=1048576",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return lines.join("\n");
}
