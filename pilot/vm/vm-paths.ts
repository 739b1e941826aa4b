// Where a VM keeps what `remora vm bootstrap` writes (Istio's VM layout where Istio has one),
// and the names of the files in the output directory. The docs and the systemd unit read these.
export const VM_PATHS = {
  /** Read by Envoy's TLS channel to pilot and by gRPC's token exchange (Istio's VM path). */
  rootCert: "/etc/certs/root-cert.pem",
  /** The service-account token (audience istio-ca) Envoy presents to pilot (Istio's path). */
  token: "/var/run/secrets/tokens/istio-token",
  bootstrap: "/etc/remora/envoy-bootstrap.json",
  /** Envoy runs as this uid, which the capture rules exclude (Istio's istio-proxy user). */
  proxyUid: 1337,
  statusPort: 15020,
  /** Output file names. */
  files: {
    bootstrap: "envoy-bootstrap.json",
    rootCert: "root-cert.pem",
    token: "istio-token",
    mesh: "mesh.yaml",
    clusterEnv: "cluster.env",
    hosts: "hosts",
    iptablesArgs: "remora-iptables.args",
    unit: "remora-envoy.service",
  },
} as const;
