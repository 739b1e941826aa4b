// Cluster-local hosts follow istiod's rules: kube-system services, kubernetes.default and the
// discovery address are local by default; serviceSettings add hosts or take defaults back; the most
// specific entry wins.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultMeshConfig, type MeshConfig } from "../model/mesh-config.ts";
import { clusterLocalHosts } from "./cluster-local.ts";

const mesh = (more: Partial<MeshConfig> = {}): MeshConfig => ({ ...defaultMeshConfig(), ...more });

test("defaults: kube-system, kubernetes.default and the discovery address are cluster-local", () => {
  const c = clusterLocalHosts(mesh());
  assert.equal(c.isClusterLocal("kube-dns.kube-system.svc.cluster.local"), true);
  assert.equal(c.isClusterLocal("kubernetes.default.svc.cluster.local"), true);
  assert.equal(c.isClusterLocal("remora-pilot.remora-system.svc.cluster.local"), true);
  assert.equal(c.isClusterLocal("reviews.default.svc.cluster.local"), false);
});

test("serviceSettings: a host or wildcard made local, a default taken back, the most specific wins", () => {
  const c = clusterLocalHosts(
    mesh({
      serviceSettings: [
        { settings: { clusterLocal: true }, hosts: ["*.pay.svc.cluster.local"] },
        { settings: { clusterLocal: false }, hosts: ["ledger.pay.svc.cluster.local"] },
        { settings: { clusterLocal: false }, hosts: ["*.kube-system.svc.cluster.local"] },
      ],
    }),
  );
  assert.equal(c.isClusterLocal("audit.pay.svc.cluster.local"), true);
  assert.equal(c.isClusterLocal("ledger.pay.svc.cluster.local"), false, "exact entry beats the wildcard");
  assert.equal(c.isClusterLocal("kube-dns.kube-system.svc.cluster.local"), false, "default taken back");
  assert.equal(c.isClusterLocal("kubernetes.default.svc.cluster.local"), true, "other defaults stay");
});

test("the default domain suffix follows the mesh config", () => {
  const c = clusterLocalHosts(mesh({ domainSuffix: "corp.internal" }));
  assert.equal(c.isClusterLocal("coredns.kube-system.svc.corp.internal"), true);
  assert.equal(c.isClusterLocal("coredns.kube-system.svc.cluster.local"), false);
});
