// TLS and connection-pool options of an HTTP output's dispatcher, from Redpanda Connect's `tls` block.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';

/** The `tls` block of an HTTP component. */
export interface TlsConfig {
  enabled: boolean;
  skip_cert_verify: boolean;
  root_cas: string;
  root_cas_file: string;
}

export function dispatcherOptions(config: { tls: TlsConfig; max_in_flight: number }, baseDir: string, timeoutMs: number): Agent.Options {
  const { tls } = config;
  if (!tls.enabled && (tls.skip_cert_verify || tls.root_cas !== '' || tls.root_cas_file !== '')) {
    throw new Error('tls: settings have no effect unless tls.enabled is true');
  }
  const ca: string[] = [];
  if (tls.enabled && tls.root_cas !== '') ca.push(tls.root_cas);
  if (tls.enabled && tls.root_cas_file !== '') {
    const file = resolvePath(baseDir, tls.root_cas_file);
    try {
      ca.push(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`tls.root_cas_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return {
    // One connection per write() slot: requests beyond max_in_flight queue (back-pressure).
    connections: config.max_in_flight,
    // Our own timer enforces `timeout` over the whole exchange; undici's are a backstop.
    headersTimeout: timeoutMs > 0 ? timeoutMs + 1000 : 0,
    bodyTimeout: timeoutMs > 0 ? timeoutMs + 1000 : 0,
    connect: {
      rejectUnauthorized: !(tls.enabled && tls.skip_cert_verify),
      // Node's defaults plus ours, as Go's root_cas extends the system pool.
      ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
    },
  };
}

