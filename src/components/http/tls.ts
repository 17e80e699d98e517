// TLS and connection-pool options of an HTTP output's dispatcher, from Redpanda Connect's `tls` block.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';

/** One client certificate (mTLS): PEM inline or in files, the key optionally encrypted with `password`. */
export interface ClientCert {
  cert: string;
  key: string;
  cert_file: string;
  key_file: string;
  password: string;
}

/** The `tls` block of an HTTP component. */
export interface TlsConfig {
  enabled: boolean;
  skip_cert_verify: boolean;
  enable_renegotiation: boolean;
  root_cas: string;
  root_cas_file: string;
  client_certs: ClientCert[];
}

export const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'TLS settings for https URLs; they apply only when enabled.',
  properties: {
    enabled: { type: 'boolean', default: false, description: 'Whether the settings below apply.' },
    skip_cert_verify: { type: 'boolean', default: false, description: 'Accept any server certificate (testing only).' },
    enable_renegotiation: {
      type: 'boolean',
      default: false,
      description: 'Accepted for Redpanda Connect configs: Node.js accepts a server\'s renegotiation request (TLS 1.2) either way.',
    },
    root_cas: { type: 'string', default: '', description: 'PEM certificates of additional trusted roots.' },
    root_cas_file: { type: 'string', default: '', description: 'A PEM file of additional trusted roots, relative to the config file.' },
    client_certs: {
      type: 'array',
      default: [],
      description: 'Client certificates presented to the server (mutual TLS): cert and key inline, or cert_file and key_file.',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          cert: { type: 'string', default: '', description: 'A PEM certificate.' },
          key: { type: 'string', default: '', 'x-secret': true, description: 'Its PEM private key.' },
          cert_file: { type: 'string', default: '', description: 'A PEM certificate file, relative to the config file.' },
          key_file: { type: 'string', default: '', description: 'Its PEM private key file, relative to the config file.' },
          password: { type: 'string', default: '', 'x-secret': true, description: 'The passphrase of an encrypted private key.' },
        },
      },
    },
  },
};

export function dispatcherOptions(config: { tls: TlsConfig; max_in_flight: number }, baseDir: string, timeoutMs: number): Agent.Options {
  const { tls } = config;
  if (!tls.enabled && (tls.skip_cert_verify || tls.root_cas !== '' || tls.root_cas_file !== '' || tls.client_certs.length > 0)) {
    throw new Error('tls: settings have no effect unless tls.enabled is true');
  }
  const read = (field: string, file: string) => {
    const path = resolvePath(baseDir, file);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca: string[] = [];
  if (tls.enabled && tls.root_cas !== '') ca.push(tls.root_cas);
  if (tls.enabled && tls.root_cas_file !== '') ca.push(read('tls.root_cas_file', tls.root_cas_file));
  const certs: string[] = [];
  const keys: { pem: string; passphrase?: string }[] = [];
  tls.client_certs.forEach((c, i) => {
    const at = `tls.client_certs[${i}]`;
    if ((c.cert === '') === (c.cert_file === '')) throw new Error(`${at}: set either cert or cert_file`);
    if ((c.key === '') === (c.key_file === '')) throw new Error(`${at}: set either key or key_file`);
    certs.push(c.cert !== '' ? c.cert : read(`${at}.cert_file`, c.cert_file));
    keys.push({ pem: c.key !== '' ? c.key : read(`${at}.key_file`, c.key_file), ...(c.password !== '' ? { passphrase: c.password } : {}) });
  });
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
      ...(certs.length > 0 ? { cert: certs, key: keys } : {}),
    },
  };
}
