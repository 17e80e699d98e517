// Helpers for the Kubernetes tests: a client pointed at a simulator, and the test TLS files.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { KubernetesClient, type KubernetesClientOptions } from '../../src/kubernetes/client.js';
import type { ClusterAccess } from '../../src/kubernetes/config.js';
import type { KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';

const tlsDir = new URL('../fixtures/kubernetes/tls/', import.meta.url);
export const TLS = {
  ca: readFileSync(new URL('ca.crt', tlsDir), 'utf8'),
  serverCert: readFileSync(new URL('server.crt', tlsDir), 'utf8'),
  serverKey: readFileSync(new URL('server.key', tlsDir), 'utf8'),
  clientCert: readFileSync(new URL('client.crt', tlsDir), 'utf8'),
  clientKey: readFileSync(new URL('client.key', tlsDir), 'utf8'),
};

/** Access to a simulator with its bearer token. */
export function simAccess(sim: KubernetesSimulator, overrides: Partial<ClusterAccess> = {}): ClusterAccess {
  return {
    server: sim.url,
    tls: { insecureSkipVerify: false },
    credentials: { kind: 'token', token: sim.token },
    identity: 'user "sluice-sim" of context "sluice-sim"',
    source: 'test',
    ...overrides,
  };
}

export function testClient(access: ClusterAccess, options: Partial<KubernetesClientOptions> = {}) {
  const metrics = new Metrics();
  const secrets = new Secrets();
  const client = new KubernetesClient({ access, timeoutMs: 5_000, logger: pino({ level: 'silent' }), metrics, secrets, ...options });
  return { client, metrics, secrets };
}

export const never = new AbortController().signal;
