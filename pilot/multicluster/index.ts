// Public surface of pilot/multicluster: remote secrets (builders and `remora create-remote-secret`).
export {
  CLUSTER_NAME_ANNOTATION,
  REMOTE_READER_SERVICE_ACCOUNT,
  REMOTE_SECRET_PREFIX,
  type RemoteKubeconfigInput,
  remoteKubeconfig,
  remoteSecret,
} from "./remote-secret.ts";
