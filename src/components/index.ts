import type { ComponentSpec } from '../engine/component.js';
import { createRegistry, type Registry } from '../engine/registry.js';
import memoryCache from './caches/memory.js';
import generate from './inputs/generate.js';
import inprocInput from './inputs/inproc.js';
import httpServer from './inputs/http_server.js';
import kubernetesResources from './inputs/kubernetes_resources.js';
import inputResource from './inputs/resource.js';
import prometheus from './inputs/prometheus.js';
import runAi from './inputs/run_ai.js';
import schedule from './inputs/schedule.js';
import stdin from './inputs/stdin.js';
import archive from './processors/archive.js';
import catchProcessor from './processors/catch.js';
import dedupe from './processors/dedupe.js';
import metric from './processors/metric.js';
import processorResource from './processors/resource.js';
import { loadPureProcessors } from './pure_processors.js';
import switchProcessor from './processors/switch.js';
import broker from './outputs/broker.js';
import syncResponseProcessor from './processors/sync_response.js';
import drop from './outputs/drop.js';
import dropOn from './outputs/drop_on.js';
import fallback from './outputs/fallback.js';
import file from './outputs/file.js';
import httpClient from './outputs/http_client.js';
import inprocOutput from './outputs/inproc.js';
import openmeter from './outputs/openmeter.js';
import reject from './outputs/reject.js';
import outputResource from './outputs/resource.js';
import rejectErrored from './outputs/reject_errored.js';
import retry from './outputs/retry.js';
import stdout from './outputs/stdout.js';
import switchOutput from './outputs/switch.js';
import syncResponseOutput from './outputs/sync_response.js';
import localRateLimit from './rate_limits/local.js';

const pureProcessors = await loadPureProcessors();

/** Every component sluice can build. Adding one: one file, one line here (a pure processor's in pure_processors.ts). */
export const components: readonly ComponentSpec[] = [
  generate,
  inprocInput,
  httpServer,
  kubernetesResources,
  inputResource,
  prometheus,
  runAi,
  schedule,
  stdin,
  archive,
  catchProcessor,
  ...pureProcessors,
  dedupe,
  metric,
  processorResource,
  switchProcessor,
  broker,
  syncResponseProcessor,
  drop,
  dropOn,
  fallback,
  file,
  httpClient,
  inprocOutput,
  openmeter,
  reject,
  outputResource,
  rejectErrored,
  retry,
  stdout,
  switchOutput,
  syncResponseOutput,
  localRateLimit,
  memoryCache,
];

export const registry: Registry = createRegistry(components);
