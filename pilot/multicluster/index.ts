// Public surface of pilot/multicluster: remote secrets (builders and `remora create-remote-secret`).
export { type CreateRemoteSecretOptions, createRemoteSecretYaml } from "./create-remote-secret.ts";
export {
  CLUSTER_NAME_ANNOTATION,
  REMOTE_SECRET_PREFIX,
  type RemoteKubeconfigInput,
  remoteKubeconfig,
  remoteSecret,
} from "./remote-secret.ts";
