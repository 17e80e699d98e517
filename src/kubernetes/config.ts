// Where the Kubernetes API is and how to authenticate, found as controller-runtime's GetConfig
// (which OpenMeter's collector uses) finds it:
//   1. KUBECONFIG (a list of files, merged: the first file to define a name wins),
//   2. in-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the pod's service-account
//      token and CA files,
//   3. ~/.kube/config.
// A kubeconfig is read at its current context: server, certificate-authority(-data),
// insecure-skip-tls-verify, tls-server-name; the user's token, tokenFile, client certificate and
// key (files or data), or username/password. Exec and auth-provider plugins are refused with a
// clear error: sluice runs no external programs to get credentials.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  /** A token file, re-read as it rotates (projected service-account tokens expire within the hour). */
  | { readonly kind: 'tokenFile'; readonly path: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string };

/** Everything the client needs to reach one API server. */
export interface ClusterAccess {
  /** Base URL, e.g. `https://10.96.0.1:443`; a path prefix is kept. */
  readonly server: string;
  readonly tls: {
    /** PEM CA bundle; absent: the system's roots. */
    readonly ca?: string;
    /** PEM client certificate and key (client-certificate authentication). */
    readonly cert?: string;
    readonly key?: string;
    readonly insecureSkipVerify: boolean;
    readonly serverName?: string;
  };
  readonly credentials: Credentials;
  /** The namespace of the context, or of the pod when in-cluster. */
  readonly namespace?: string;
  /** Who the API server will see, for error messages: `ServiceAccount ns/name`, `user "x" of context "y"`. */
  readonly identity: string;
  /** Where this came from, for logs: `in-cluster`, `kubeconfig /path (context kind-kind)`. */
  readonly source: string;
}

export interface DiscoveryOptions {
  /** Environment to read KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT and HOME from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default /var/run/secrets/kubernetes.io/serviceaccount. */
  readonly serviceAccountDir?: string;
  /** Use this context instead of the current one. */
  readonly context?: string;
}

/** A configuration that can't be used; the message says which file or variable and what to fix. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/** Finds cluster access in controller-runtime's order. Reads local files only; throws KubeConfigError. */
export function discoverClusterAccess(options: DiscoveryOptions = {}): ClusterAccess {
  const env = options.env ?? process.env;
  const kubeconfig = env['KUBECONFIG'];
  if (kubeconfig) {
    const files = kubeconfig.split(delimiter).filter((f) => f !== '');
    return fromKubeconfig(files, options.context, 'KUBECONFIG');
  }
  if (env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT']) {
    return inCluster(env['KUBERNETES_SERVICE_HOST'], env['KUBERNETES_SERVICE_PORT'], options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  }
  const home = env['HOME'] || homedir();
  const file = join(home, '.kube', 'config');
  if (!existsSync(file)) {
    throw new KubeConfigError(
      `no Kubernetes configuration found: KUBECONFIG is not set, this is not a pod (KUBERNETES_SERVICE_HOST is not set), and ${file} does not exist`,
    );
  }
  return fromKubeconfig([file], options.context, file);
}

// -- in-cluster ----------------------------------------------------------------------------------

function inCluster(host: string, port: string, dir: string): ClusterAccess {
  const tokenPath = join(dir, 'token');
  let token: string;
  try {
    token = readFileSync(tokenPath, 'utf8').trim();
  } catch (err) {
    throw new KubeConfigError(`in-cluster configuration: cannot read the service-account token ${tokenPath}: ${(err as Error).message}`);
  }
  let ca: string | undefined;
  const caPath = join(dir, 'ca.crt');
  try {
    ca = readFileSync(caPath, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`in-cluster configuration: cannot read the cluster CA ${caPath}: ${(err as Error).message}`);
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // Optional: only used to name the service account in error messages.
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca, insecureSkipVerify: false },
    credentials: { kind: 'tokenFile', path: tokenPath },
    ...(namespace ? { namespace } : {}),
    identity: serviceAccountOf(token) ?? `the pod's ServiceAccount${namespace ? ` (namespace ${namespace})` : ''}`,
    source: `in-cluster (${hostPart}:${port}, token ${tokenPath})`,
  };
}

/** `ServiceAccount ns/name` from a service-account JWT's claims (bound or legacy), read without verifying it. */
export function serviceAccountOf(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, any>;
    const bound = claims['kubernetes.io'];
    if (bound?.namespace && bound?.serviceaccount?.name) return `ServiceAccount ${bound.namespace}/${bound.serviceaccount.name}`;
    const legacyNs = claims['kubernetes.io/serviceaccount/namespace'];
    const legacyName = claims['kubernetes.io/serviceaccount/service-account.name'];
    if (legacyNs && legacyName) return `ServiceAccount ${legacyNs}/${legacyName}`;
    const sub = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(String(claims['sub'] ?? ''));
    return sub ? `ServiceAccount ${sub[1]}/${sub[2]}` : undefined;
  } catch {
    return undefined;
  }
}

// -- kubeconfig ----------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
interface Named {
  readonly entry: Obj;
  /** The file that defined it: relative paths inside resolve against its directory. */
  readonly file: string;
}

function fromKubeconfig(files: string[], contextOverride: string | undefined, origin: string): ClusterAccess {
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let currentContext = '';
  let read = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      // client-go skips missing files of a KUBECONFIG list.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && files.length > 1) continue;
      throw new KubeConfigError(`kubeconfig ${file} (from ${origin}): ${(err as Error).message}`);
    }
    read++;
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new KubeConfigError(`kubeconfig ${file}: not valid YAML: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) continue;
    if (!isObject(doc)) throw new KubeConfigError(`kubeconfig ${file}: expected a mapping with clusters, users and contexts`);
    collect(doc, 'clusters', 'cluster', file, clusters);
    collect(doc, 'users', 'user', file, users);
    collect(doc, 'contexts', 'context', file, contexts);
    if (!currentContext && typeof doc['current-context'] === 'string') currentContext = doc['current-context'];
  }
  if (read === 0) throw new KubeConfigError(`${origin} names no readable kubeconfig file (${files.join(', ')})`);
  const where = files.length === 1 ? files[0]! : `${origin} (${files.join(', ')})`;
  const contextName = contextOverride ?? currentContext;
  if (!contextName) throw new KubeConfigError(`kubeconfig ${where}: no current-context is set (kubectl config use-context NAME)`);
  const context = contexts.get(contextName);
  if (!context) throw new KubeConfigError(`kubeconfig ${where}: context "${contextName}" is not defined (contexts: ${[...contexts.keys()].join(', ') || 'none'})`);
  const clusterName = str(context.entry['cluster']);
  const cluster = clusters.get(clusterName);
  if (!cluster) throw new KubeConfigError(`kubeconfig ${where}: context "${contextName}" names cluster "${clusterName}", which is not defined`);
  const userName = str(context.entry['user']);
  const user = userName ? users.get(userName) : undefined;
  if (userName && !user) throw new KubeConfigError(`kubeconfig ${where}: context "${contextName}" names user "${userName}", which is not defined`);

  const c = cluster.entry;
  const server = str(c['server']);
  if (!server) throw new KubeConfigError(`kubeconfig ${cluster.file}: cluster "${clusterName}" has no server`);
  try {
    const url = new URL(server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new KubeConfigError(`kubeconfig ${cluster.file}: cluster "${clusterName}" server ${JSON.stringify(server)} is not an http(s) URL`);
  }
  const ca = pem(c, 'certificate-authority', cluster.file, `cluster "${clusterName}"`);
  const tls = {
    ...(ca ? { ca } : {}),
    insecureSkipVerify: c['insecure-skip-tls-verify'] === true,
    ...(str(c['tls-server-name']) ? { serverName: str(c['tls-server-name']) } : {}),
  };
  let credentials: Credentials = { kind: 'none' };
  if (user) {
    const u = user.entry;
    const label = `user "${userName}"`;
    if (isObject(u['exec'])) {
      const command = str((u['exec'] as Obj)['command']);
      throw new KubeConfigError(
        `kubeconfig ${user.file}: ${label} gets credentials from the exec plugin "${command}", which sluice does not run; use a user with a token, token file or client certificate (e.g. a ServiceAccount token)`,
      );
    }
    if (isObject(u['auth-provider'])) {
      throw new KubeConfigError(`kubeconfig ${user.file}: ${label} uses the auth-provider "${str((u['auth-provider'] as Obj)['name'])}", which sluice does not support; use a token or client certificate`);
    }
    const cert = pem(u, 'client-certificate', user.file, label);
    const key = pem(u, 'client-key', user.file, label);
    if ((cert === undefined) !== (key === undefined)) throw new KubeConfigError(`kubeconfig ${user.file}: ${label} has a client certificate without its key, or a key without its certificate`);
    if (cert && key) Object.assign(tls, { cert, key });
    if (str(u['token'])) credentials = { kind: 'token', token: str(u['token']) };
    else if (str(u['tokenFile'])) credentials = { kind: 'tokenFile', path: relativeTo(user.file, str(u['tokenFile'])) };
    else if (str(u['username'])) credentials = { kind: 'basic', username: str(u['username']), password: str(u['password']) };
  }
  const namespace = str(context.entry['namespace']);
  return {
    server: server.replace(/\/+$/, ''),
    tls,
    credentials,
    ...(namespace ? { namespace } : {}),
    identity: userName ? `user "${userName}" of context "${contextName}"` : `context "${contextName}" (no user)`,
    source: `kubeconfig ${where} (context ${contextName})`,
  };
}

function collect(doc: Obj, list: string, key: string, file: string, into: Map<string, Named>): void {
  const entries = doc[list];
  if (entries === undefined || entries === null) return;
  if (!Array.isArray(entries)) throw new KubeConfigError(`kubeconfig ${file}: ${list} must be a list`);
  for (const [i, item] of entries.entries()) {
    if (!isObject(item) || typeof item['name'] !== 'string') throw new KubeConfigError(`kubeconfig ${file}: ${list}[${i}] has no name`);
    if (into.has(item['name'])) continue;
    into.set(item['name'], { entry: isObject(item[key]) ? (item[key] as Obj) : {}, file });
  }
}

/** A PEM from `<field>-data` (base64) or the file `<field>`, relative to the kubeconfig. */
function pem(entry: Obj, field: string, file: string, owner: string): string | undefined {
  const data = str(entry[`${field}-data`]);
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  const path = str(entry[field]);
  if (!path) return undefined;
  const full = relativeTo(file, path);
  try {
    return readFileSync(full, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file}: ${owner} ${field} ${full}: ${(err as Error).message}`);
  }
}

const relativeTo = (file: string, path: string): string => (isAbsolute(path) ? path : resolve(dirname(file), path));
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

