// kube-inject of 1,000 Deployments in one multi-document file, against a plain parse + stringify
// of the same file with the same YAML library (yaml's Document API, Kubernetes options), in the
// same process. Goal: ≤ 1.5 s wall and ≤ 2× the baseline.
import { parseAllDocuments } from "yaml";
import { defaultInjectionConfig, KUBE_PARSE_OPTIONS, KUBE_STRINGIFY_OPTIONS } from "../../injector/index.ts";
import { kubeInject } from "../../injector/kube-inject.ts";
import { median, report, SMOKE, timeRuns } from "./report.ts";

const COUNT = SMOKE ? 20 : 1000;
const RUNS = SMOKE ? 2 : 7;

function deployment(i: number): string {
  return `# workload ${i}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  namespace: team-${i % 10}
  labels:
    app: app-${i}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: app-${i}
      version: v${i % 3}
  template:
    metadata:
      labels:
        app: app-${i}
        version: v${i % 3}
    spec:
      serviceAccountName: app-${i}
      containers:
        - name: app
          image: registry.example.com/app-${i}:1.${i}
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: MODE
              value: "on"
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 5
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
`;
}

const text = Array.from({ length: COUNT }, (_, i) => deployment(i)).join("---\n");
const config = defaultInjectionConfig();

function baseline(): number {
  let size = 0;
  for (const doc of parseAllDocuments(text, KUBE_PARSE_OPTIONS) as ReturnType<typeof parseAllDocuments> &
    unknown[]) {
    size += (doc as { toString(o: unknown): string }).toString(KUBE_STRINGIFY_OPTIONS).length;
  }
  return size;
}

function ours(): number {
  const r = kubeInject(text, { config });
  if (r.exitCode !== 0) throw new Error(r.errors.join("\n"));
  return r.output.length;
}

// Interleaved, so that load from other processes hits both sides alike.
baseline();
ours();
const base: number[] = [];
const mine: number[] = [];
for (let i = 0; i < RUNS; i++) {
  base.push(...(await timeRuns(baseline, 1, 0)));
  mine.push(...(await timeRuns(ours, 1, 0)));
}
report({
  name: `kube-inject ${COUNT} Deployments (one multi-document file)`,
  ours: Math.round(median(mine)),
  baseline: Math.round(median(base)),
  unit: "ms",
  runs: RUNS,
  goal: "ours <= 1500 ms, ratio <= 2 (baseline: parse + stringify with the same YAML library)",
  extra: { inputBytes: text.length, outputBytes: ours() },
});
