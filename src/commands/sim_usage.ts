// The usage lines of `sluice sim`, apart from the simulators so the CLI's help loads none of them.
export const SIM_USAGE = `  sluice sim runai [--port N] [--host H] [--workloads N] [--seed N] [--latency DURATION] [--token-ttl DURATION] [--app-id ID --app-secret SECRET] [--error-rate R] [--log]
  sluice sim openmeter [--port N] [--host H] [--token TOKEN] [--latency DURATION] [--error-rate R] [--summary DURATION]
  sluice sim kubernetes [--port N] [--host H] [--pods N] [--nodes N] [--seed N] [--token TOKEN] [--latency DURATION] [--error-rate R] [--kubeconfig PATH] [--log]
`;
