// Builds outputs directly from their specs (no config file, no engine), including the children of
// wrapper outputs, so a wrapper test runs real child outputs against real loopback servers.
import { afterEach } from 'vitest';
import type { Builder, ChildOutput, ComponentSpec, Output, Settings, Submission } from '../../src/engine/component.js';
import { outcomeOf, type GivenUp } from '../../src/engine/delivery.js';
import { Message } from '../../src/engine/message.js';
import { startOpenMeterSimulator, type OpenMeterSimulator, type OpenMeterSimulatorOptions } from '../../src/openmeter/sim.js';
import { withDefaults } from './defaults.js';
import { testSettings } from './settings.js';

/** Creates `spec` with defaults filled; wrapper children are built from `specs` the same way. */
export function buildOutput(spec: ComponentSpec<'output'>, config: unknown, specs: readonly ComponentSpec<'output'>[], overrides: Partial<Settings> = {}): Output {
  const base = testSettings(overrides);
  const builder: Builder = {
    processors: () => {
      throw new Error('these test settings build no processors');
    },
    output: (node, path) => childOutput(createChild(node, path)),
    input: () => {
      throw new Error('these test settings build no inputs');
    },
    resource: () => {
      throw new Error('these test settings hold no resources');
    },
  };
  const createChild = (node: unknown, path: string): Output => {
    const [type, childConfig] = Object.entries(node as Record<string, unknown>).find(([key]) => key !== 'label' && key !== 'processors')!;
    const childSpec = specs.find((s) => s.name === type);
    if (!childSpec) throw new Error(`no output spec named ${type} in this test`);
    return childSpec.create(withDefaults(childSpec, childConfig ?? {}), { ...base, build: builder, path: `${path}.${type}` });
  };
  return spec.create(withDefaults(spec, config), { ...base, build: builder });
}

/** An output seen as a wrapper's child: as the engine's Writer, at most maxInFlight writes at once. */
function childOutput(output: Output): ChildOutput {
  const limit = Math.max(1, output.maxInFlight ?? 1);
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const abort = new AbortController();
  const submit = (batch: readonly Message[]): Submission => {
    if (output.submit) return output.submit(batch);
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => (accept = resolve));
    const delivered = (async () => {
      if (inFlight >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else inFlight++;
      accept();
      try {
        await output.write(batch, abort.signal);
      } finally {
        const next = waiting.shift();
        if (next) next();
        else inFlight--;
      }
    })();
    return { accepted, delivered };
  };
  return {
    connect: (signal) => output.connect(signal),
    submit,
    async write(batch) {
      const submission = submit(batch);
      // Both at once: a delivery that fails before acceptance must not go unhandled.
      await Promise.all([submission.accepted, submission.delivered]);
    },
    async close() {
      abort.abort(new Error('output closed'));
      await output.close();
    },
  };
}

/** A test output that records what it is given and fails the writes a test asks it to. */
export interface CaptureState {
  writes: Message[][];
  /** Throws this error for the next write(s), then clears it when `times` runs out. */
  failWith?: { error: Error; times: number };
}

export function captureSpec(state: CaptureState): ComponentSpec<'output'> {
  return {
    kind: 'output',
    name: 'capture',
    summary: 'test output',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    example: {},
    create: () => ({
      connect: async () => {},
      async write(batch) {
        if (state.failWith && state.failWith.times > 0) {
          state.failWith.times--;
          throw state.failWith.error;
        }
        state.writes.push([...batch]);
      },
      close: async () => {},
    }),
  };
}

/** A test output whose writes all wait until the test opens its gate, recording what they were given. */
export interface GateState {
  writes: Message[][];
  /** Writes begun so far, delivered or still waiting at the gate. */
  attempts: number;
  /** Opens the gate: the waiting writes and every later one go through. */
  release: () => void;
}

/** A `gate` output (see GateState) that takes up to `maxInFlight` writes at once. */
export function gateSpec(maxInFlight = 1): { spec: ComponentSpec<'output'>; state: GateState } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const state: GateState = { writes: [], attempts: 0, release: () => open() };
  const spec: ComponentSpec<'output'> = {
    kind: 'output',
    name: 'gate',
    summary: 'test output',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    example: {},
    create: () => ({
      maxInFlight,
      connect: async () => {},
      async write(batch) {
        state.attempts++;
        await opened;
        state.writes.push([...batch]);
      },
      close: async () => {},
    }),
  };
  return { spec, state };
}

/**
 * Returns a starter of OpenMeter simulators that are all closed after each test of the calling
 * file (registers the afterEach).
 */
export function simulatorsClosedAfterEach(): (options?: OpenMeterSimulatorOptions) => Promise<OpenMeterSimulator> {
  const running: OpenMeterSimulator[] = [];
  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map((sim) => sim.close()));
  });
  return async (options = {}) => {
    const sim = await startOpenMeterSimulator(options);
    running.push(sim);
    return sim;
  };
}

/** What became of a batch written to an output: delivered, or what is left to retry and what was given up. */
export async function writeOutcome(output: Output, batch: readonly Message[]): Promise<{ delivered: boolean; retry: Message[]; givenUp: GivenUp[]; reason?: string }> {
  try {
    await output.write(batch, new AbortController().signal);
    return { delivered: true, retry: [], givenUp: [] };
  } catch (err) {
    return { delivered: false, ...outcomeOf(err, batch) };
  }
}

/** What `archive: json_array` makes of a batch: one message holding the bodies as a JSON array, standing for them. */
export function jsonArchive(parts: readonly Message[], metadata = {}): Message {
  return Message.archiveOf(parts, (p) => Buffer.from(JSON.stringify(p.map((m) => m.json()))), metadata);
}
