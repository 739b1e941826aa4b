// Public surface of pilot/agent: the proxyless workload agent (certificates and gRPC bootstrap).

export {
  type AgentLogger,
  type AgentOptions,
  type IssuedState,
  tokenIdentity,
  WorkloadAgent,
} from "./agent.ts";
export { AGENT_DEFAULTS } from "./agent-defaults.ts";
export {
  buildGrpcBootstrap,
  CERT_FILES,
  type GrpcBootstrap,
  type GrpcBootstrapOptions,
  SERVER_LISTENER_TEMPLATE,
} from "./grpc-bootstrap.ts";
