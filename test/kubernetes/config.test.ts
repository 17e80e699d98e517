import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { discoverClusterAccess, KubeConfigError, serviceAccountOf } from '../../src/kubernetes/config.js';
import { TLS } from './support.js';

const dir = () => mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-'));
const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

function kubeconfig(overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'prod', cluster: { server: 'https://prod.example.com:6443/', 'certificate-authority-data': Buffer.from(TLS.ca).toString('base64') } },
      { name: 'dev', cluster: { server: 'https://dev.example.com', 'insecure-skip-tls-verify': true } },
    ],
    users: [
      { name: 'admin', user: { 'client-certificate-data': Buffer.from(TLS.clientCert).toString('base64'), 'client-key-data': Buffer.from(TLS.clientKey).toString('base64') } },
      { name: 'bot', user: { token: 'static-token-123' } },
    ],
    contexts: [
      { name: 'prod-admin', context: { cluster: 'prod', user: 'admin', namespace: 'billing' } },
      { name: 'dev-bot', context: { cluster: 'dev', user: 'bot' } },
    ],
    'current-context': 'prod-admin',
    ...overrides,
  };
}

describe('discoverClusterAccess', () => {
  it('reads KUBECONFIG at its current context: server, CA data, client certificate, namespace', () => {
    const d = dir();
    writeFileSync(join(d, 'config'), stringify(kubeconfig()));
    const access = discoverClusterAccess({ env: { KUBECONFIG: join(d, 'config'), KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' } });
    expect(access).toMatchObject({
      server: 'https://prod.example.com:6443',
      tls: { ca: TLS.ca, cert: TLS.clientCert, key: TLS.clientKey, insecureSkipVerify: false },
      credentials: { kind: 'none' },
      namespace: 'billing',
      identity: 'user "admin" of context "prod-admin"',
    });
    expect(access.source).toContain('context prod-admin');
  });

  it('takes a context by name, with a bearer token and insecure-skip-tls-verify', () => {
    const d = dir();
    writeFileSync(join(d, 'config'), stringify(kubeconfig()));
    const access = discoverClusterAccess({ env: { KUBECONFIG: join(d, 'config') }, context: 'dev-bot' });
    expect(access).toMatchObject({ server: 'https://dev.example.com', tls: { insecureSkipVerify: true }, credentials: { kind: 'token', token: 'static-token-123' } });
    expect(access.namespace).toBeUndefined();
  });

  it('merges a KUBECONFIG list: the first file to define a name or the current context wins; missing files are skipped', () => {
    const d = dir();
    writeFileSync(join(d, 'a'), stringify({ clusters: [{ name: 'dev', cluster: { server: 'https://first.example.com' } }], 'current-context': 'dev-bot' }));
    writeFileSync(join(d, 'b'), stringify(kubeconfig()));
    const access = discoverClusterAccess({ env: { KUBECONFIG: [join(d, 'a'), join(d, 'missing'), join(d, 'b')].join(':') } });
    expect(access.server).toBe('https://first.example.com');
    expect(access.credentials).toEqual({ kind: 'token', token: 'static-token-123' });
  });

  it('resolves certificate and token files relative to the kubeconfig', () => {
    const d = dir();
    mkdirSync(join(d, 'pki'));
    writeFileSync(join(d, 'pki', 'ca.crt'), TLS.ca);
    writeFileSync(join(d, 'pki', 'token'), 'file-token');
    writeFileSync(
      join(d, 'config'),
      stringify({
        clusters: [{ name: 'c', cluster: { server: 'https://k8s.local', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' } }],
        users: [{ name: 'u', user: { tokenFile: 'pki/token' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const access = discoverClusterAccess({ env: { KUBECONFIG: join(d, 'config') } });
    expect(access.tls).toMatchObject({ ca: TLS.ca, serverName: 'kubernetes' });
    expect(access.credentials).toEqual({ kind: 'tokenFile', path: join(d, 'pki', 'token') });
  });

  it('uses the in-cluster service account when there is no KUBECONFIG, and names it', () => {
    const d = dir();
    writeFileSync(join(d, 'token'), jwt({ sub: 'system:serviceaccount:openmeter:collector', 'kubernetes.io': { namespace: 'openmeter', serviceaccount: { name: 'collector' } } }));
    writeFileSync(join(d, 'ca.crt'), TLS.ca);
    writeFileSync(join(d, 'namespace'), 'openmeter\n');
    const access = discoverClusterAccess({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: d }, serviceAccountDir: d });
    expect(access).toMatchObject({
      server: 'https://[fd00::1]:443',
      tls: { ca: TLS.ca, insecureSkipVerify: false },
      credentials: { kind: 'tokenFile', path: join(d, 'token') },
      namespace: 'openmeter',
      identity: 'ServiceAccount openmeter/collector',
    });
  });

  it('falls back to ~/.kube/config, and says what it looked for when nothing is there', () => {
    const d = dir();
    expect(() => discoverClusterAccess({ env: { HOME: d } })).toThrow(/KUBECONFIG is not set, this is not a pod \(KUBERNETES_SERVICE_HOST is not set\), and .*\.kube\/config does not exist/);
    mkdirSync(join(d, '.kube'));
    writeFileSync(join(d, '.kube', 'config'), stringify(kubeconfig()));
    expect(discoverClusterAccess({ env: { HOME: d } }).server).toBe('https://prod.example.com:6443');
  });

  it('explains what is wrong with a kubeconfig it cannot use', () => {
    const d = dir();
    const file = join(d, 'config');
    const cases: [unknown, RegExp][] = [
      [kubeconfig({ 'current-context': '' }), /no current-context is set/],
      [kubeconfig({ 'current-context': 'nope' }), /context "nope" is not defined \(contexts: prod-admin, dev-bot\)/],
      [kubeconfig({ users: [{ name: 'admin', user: { exec: { command: 'aws', args: ['eks', 'get-token'] } } }] }), /user "admin" gets credentials from the exec plugin "aws", which sluice does not run/],
      [kubeconfig({ users: [{ name: 'admin', user: { 'auth-provider': { name: 'oidc' } } }] }), /auth-provider "oidc"/],
      [kubeconfig({ users: [{ name: 'admin', user: { 'client-certificate': 'missing.crt', 'client-key': 'missing.key' } }] }), /client-certificate .*missing.crt: ENOENT/],
      [kubeconfig({ clusters: [{ name: 'prod', cluster: { server: 'ftp://x' } }] }), /server "ftp:\/\/x" is not an http\(s\) URL/],
      ['clusters: [unclosed', /not valid YAML/],
    ];
    for (const [content, message] of cases) {
      writeFileSync(file, typeof content === 'string' ? content : stringify(content));
      expect(() => discoverClusterAccess({ env: { KUBECONFIG: file } })).toThrow(message);
      expect(() => discoverClusterAccess({ env: { KUBECONFIG: file } })).toThrow(KubeConfigError);
    }
    expect(() => discoverClusterAccess({ env: { KUBECONFIG: join(d, 'nothing-here') } })).toThrow(/kubeconfig .*nothing-here \(from KUBECONFIG\): ENOENT/);
  });

  it('reads the ServiceAccount from bound and legacy tokens', () => {
    expect(serviceAccountOf(jwt({ 'kubernetes.io/serviceaccount/namespace': 'ns', 'kubernetes.io/serviceaccount/service-account.name': 'sa' }))).toBe('ServiceAccount ns/sa');
    expect(serviceAccountOf(jwt({ sub: 'system:serviceaccount:a:b' }))).toBe('ServiceAccount a/b');
    expect(serviceAccountOf('opaque')).toBeUndefined();
  });
});
