// The version Remora reports in `--version`, node metadata and the sidecar status annotation.
export const VERSION = "0.1.0";
