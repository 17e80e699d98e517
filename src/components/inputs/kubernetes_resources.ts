// input.kubernetes_resources: lists pods, nodes, persistent volumes or claims, one message per
// object, one batch per read. A drop-in for OpenMeter's collector input of the same name: same
// fields and defaults, same pod filter, same message (the object as the API serves it, with `kind`
// and `apiVersion`, as controller-runtime's cached client returns it; no metadata). Each read lists
// once, so it is meant to be wrapped in `schedule`, as OpenMeter's preset does.
//
// Where it differs from the reference, on purpose:
// - It lists the API server directly (paged, bounded; see kubernetes/client.ts) instead of through
//   an informer cache that holds every object of the type in memory between ticks.
// - Credentials are looked up at connect, not at build: `sluice lint` needs no cluster.
// - connect() checks that every namespace can be listed, so a missing RBAC rule is reported (naming
//   the ServiceAccount, verb, resource and namespace) before the first tick.
// - A namespace list containing "" (all namespaces) lists all namespaces once; the reference lists
//   all, then each named namespace again, and emits their pods twice. Nodes and persistent volumes
//   are cluster-scoped: they are listed once whatever `namespaces` says (the reference's cached
//   client returns none for a named namespace).
// - Pods without a phase, and pods in unexpected phases, are summarised in one log line per read
//   instead of one warning per pod.

import type { Gauge } from 'prom-client';
import { durationSchema, parseDuration } from '../../config/duration.js';
import { defineInput, type Input, type ReadResult, type Settings } from '../../engine/component.js';
import { Message } from '../../engine/message.js';
import { RESOURCES, type KubeObject } from '../../kubernetes/api.js';
import { KubernetesClient } from '../../kubernetes/client.js';
import { discoverClusterAccess } from '../../kubernetes/config.js';
import { parseSelector } from '../../kubernetes/labels.js';

type ListedType = 'pod' | 'node' | 'persistentvolume' | 'persistentvolumeclaim';

interface KubernetesResourcesConfig {
  namespaces: (string | null)[];
  resource_type: ListedType;
  label_selector?: string;
  include_pending_pods: boolean;
  page_size: number;
  timeout: string;
}

export default defineInput<KubernetesResourcesConfig>({
  name: 'kubernetes_resources',
  summary: 'Lists pods, nodes, persistent volumes or claims in Kubernetes, one message per object; wrap it in schedule.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['namespaces'],
    properties: {
      namespaces: {
        type: 'array',
        // null: the preset's `- ${SCRAPE_NAMESPACE:}` with the variable unset.
        items: { type: ['string', 'null'] },
        description: 'Namespaces to list resources from; empty, "" or null lists all namespaces. Not used for nodes and persistent volumes.',
      },
      resource_type: {
        type: 'string',
        enum: ['pod', 'node', 'persistentvolume', 'persistentvolumeclaim'],
        default: 'pod',
        description: 'Type of resource to list.',
      },
      label_selector: { type: 'string', description: 'Label selector applied to each list operation, e.g. "app=seed,tier!=batch".' },
      include_pending_pods: {
        type: 'boolean',
        default: false,
        description: "Include pods in pending state (not all containers are running). Only applies when resource_type is 'pod'.",
      },
      page_size: { type: 'integer', minimum: 1, maximum: 10000, default: 500, description: 'Objects per list request (`limit`); lists page with `continue`.' },
      timeout: durationSchema('Timeout of one request to the API server.', '30s'),
    },
  },
  example: { namespaces: ['default'] },
  create(config, settings) {
    if (config.label_selector !== undefined) {
      try {
        parseSelector(config.label_selector);
      } catch (err) {
        throw Object.assign(err as Error, { field: 'label_selector' });
      }
    }
    let timeoutNs: number;
    try {
      timeoutNs = parseDuration(config.timeout);
    } catch (err) {
      throw Object.assign(err as Error, { field: 'timeout' });
    }
    if (timeoutNs <= 0) throw Object.assign(new Error(`timeout must be positive, got ${config.timeout}`), { field: 'timeout' });
    return new KubernetesResourcesInput(config, timeoutNs / 1e6, settings);
  },
});

class KubernetesResourcesInput implements Input {
  #config: KubernetesResourcesConfig;
  #timeoutMs: number;
  #settings: Settings;
  /** '' is all namespaces; cluster-scoped types are listed once, with ''. */
  #namespaces: string[];
  #client: KubernetesClient | undefined;
  #stop = new AbortController();
  #listed: Gauge;

  constructor(config: KubernetesResourcesConfig, timeoutMs: number, settings: Settings) {
    this.#config = config;
    this.#timeoutMs = timeoutMs;
    this.#settings = settings;
    // Lower-cased and deduplicated, as the reference does; none means all.
    const namespaces = [...new Set(config.namespaces.map((ns) => (ns ?? '').toLowerCase()))];
    this.#namespaces = !RESOURCES[config.resource_type].namespaced || namespaces.length === 0 || namespaces.includes('') ? [''] : namespaces;
    this.#listed = settings.metrics.gauge('kubernetes_resources_listed', 'Objects the last read of a kubernetes_resources input emitted.', ['label', 'path', 'type']);
  }

  /** Finds credentials, then checks that every namespace can be listed (reachability, authentication, RBAC). */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#stop.signal.aborted) throw new Error('kubernetes_resources input is closed');
    if (!this.#client) {
      const access = discoverClusterAccess();
      this.#client = new KubernetesClient({
        access,
        timeoutMs: this.#timeoutMs,
        pageSize: this.#config.page_size,
        logger: this.#settings.logger,
        metrics: this.#settings.metrics,
        secrets: this.#settings.secrets,
      });
      this.#settings.logger.info({ server: access.server, source: access.source, as: access.identity }, 'Kubernetes API credentials found');
      const named = this.#config.namespaces.filter((ns) => ns);
      if (!RESOURCES[this.#config.resource_type].namespaced && named.length > 0) {
        this.#settings.logger.warn({ namespaces: named, resource_type: this.#config.resource_type }, 'namespaces do not apply to cluster-scoped resources; listing all of them');
      }
    }
    for (const namespace of this.#namespaces) {
      await this.#client.check(this.#config.resource_type, this.#listOptions(namespace), signal);
    }
  }

  /** Lists every namespace; one batch of every object kept. Rejects when any list fails (the schedule tries the tick again). */
  async read(signal: AbortSignal): Promise<ReadResult | null> {
    const client = this.#client;
    if (!client || this.#stop.signal.aborted || signal.aborted) return null;
    const type = this.#config.resource_type;
    const batch: Message[] = [];
    const skipped = { noPhase: [] as string[], unexpectedPhase: [] as string[] };
    for (const namespace of this.#namespaces) {
      const result = await client.list(type, this.#listOptions(namespace), signal);
      if (result.problems.length > 0) {
        this.#settings.logger.warn({ skipped: result.problems.length, examples: result.problems.slice(0, 3) }, 'Kubernetes listed unreadable objects; they are skipped');
      }
      for (const object of result.items) {
        if (type === 'pod' && !this.#podIncluded(object, skipped)) continue;
        batch.push(Message.fromJSON(object));
      }
    }
    if (skipped.noPhase.length > 0) {
      this.#settings.logger.warn({ pods: skipped.noPhase.length, examples: skipped.noPhase.slice(0, 5) }, 'pods have no phase; included when their containers run');
    }
    if (skipped.unexpectedPhase.length > 0) {
      this.#settings.logger.warn({ pods: skipped.unexpectedPhase.length, examples: skipped.unexpectedPhase.slice(0, 5) }, 'pods have an unknown phase; skipped');
    }
    this.#listed.set({ label: this.#settings.label, path: this.#settings.path, type }, batch.length);
    this.#settings.logger.debug({ type, objects: batch.length }, 'Kubernetes resources listed');
    return { batch, ack: () => {} };
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#client?.close();
  }

  #listOptions(namespace: string) {
    return { ...(namespace ? { namespace } : {}), ...(this.#config.label_selector ? { labelSelector: this.#config.label_selector } : {}) };
  }

  /**
   * The reference's filter: Running pods; Pending pods when include_pending_pods; pods without a
   * phase by their containers (all running: included; some: as Pending; none: skipped); others skipped.
   */
  #podIncluded(pod: KubeObject, skipped: { noPhase: string[]; unexpectedPhase: string[] }): boolean {
    const status = (pod['status'] ?? {}) as { phase?: string; containerStatuses?: { state?: { running?: unknown } }[] };
    const name = `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`;
    switch (status.phase ?? '') {
      case 'Running':
        return true;
      case 'Pending':
        return this.#config.include_pending_pods;
      case '': {
        skipped.noPhase.push(name);
        const running = (status.containerStatuses ?? []).map((c) => c?.state?.running !== undefined && c?.state?.running !== null);
        if (running.every(Boolean)) return true;
        return running.some(Boolean) && this.#config.include_pending_pods;
      }
      case 'Succeeded':
      case 'Failed':
        return false;
      default:
        skipped.unexpectedPhase.push(name);
        return false;
    }
  }
}
