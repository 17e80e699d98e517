// Routes each message to the processors of the first case whose check passes (Redpanda Connect's
// `switch` processor). A check is a query in JSONata or Bloblang (detected as for `check:` fields
// everywhere); an empty check always passes.
import { defineProcessor, type Processor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { runProcessors } from '../../engine/processors.js';
import type { CompiledExpression } from '../../mapping/environment.js';
import { compileQuery } from '../../mapping/language.js';

interface SwitchCase {
  check: string;
  processors: unknown[];
  fallthrough: boolean;
}

export default defineProcessor<SwitchCase[]>({
  name: 'switch',
  summary: 'Runs the processors of the first case whose check passes on each message; messages matching no case pass on unchanged.',
  schema: {
    type: 'array',
    description: 'The cases, tested in order for each message; the first whose check passes takes it.',
    items: {
      type: 'object',
      additionalProperties: false,
      properties: {
        check: {
          type: 'string',
          default: '',
          description:
            'A query (JSONata, or Bloblang when it reads as Bloblang) returning a boolean: true sends the message to this case. Empty always passes. A check that fails flags the message, which then passes on without testing further cases.',
        },
        processors: { type: 'array', default: [], items: { 'x-component': 'processor' }, description: 'Processors run on the messages of this case, as one batch.' },
        fallthrough: {
          type: 'boolean',
          default: false,
          description: "The messages this case processed go on to the next case's processors too, without its check.",
        },
      },
    },
  },
  example: [{ check: 'type = "a"', processors: [{ log: { message: 'an a' } }] }, { processors: [{ log: { message: 'anything else' } }] }],
  create(cases, { build, path, logger }) {
    const compiled = cases.map((c, i) => {
      let check: CompiledExpression | undefined;
      if (c.check.trim() !== '') {
        try {
          check = compileQuery(c.check);
        } catch (err) {
          throw Object.assign(err as Error, { field: `[${i}].check` });
        }
      }
      return { check, processors: build.processors(c.processors, `${path}[${i}].processors`), fallthrough: c.fallthrough };
    });

    /** Whether message `index` passes case `i`'s check, or why the check failed (Connect then flags the message). */
    const passes = async (i: number, batch: readonly Message[], index: number): Promise<boolean | Error> => {
      const check = compiled[i]!.check;
      if (!check) return true;
      try {
        const value = await check.evaluate({ message: batch[index]!, batch, index });
        if (typeof value !== 'boolean') return new Error(`check: expected a boolean, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
        return value;
      } catch (err) {
        return err as Error;
      }
    };

    const processor: Processor = {
      async process(batch) {
        // Each output slot: the messages standing where input message i stood (undefined: not yet known).
        const slots: (Message[] | undefined)[] = batch.map(() => undefined);
        const unordered: Message[] = [];
        let remaining = batch.map((_, i) => i);
        // Messages a fallthrough case passed on: processed already, they skip the next check.
        let carried: { messages: Message[]; origins: number[] | undefined } = { messages: [], origins: [] };
        for (let c = 0; c < compiled.length; c++) {
          const taken: number[] = [];
          const left: number[] = [];
          for (const i of remaining) {
            const outcome = await passes(c, batch, i);
            if (outcome instanceof Error) {
              logger.error({ err: outcome.message, case: c }, 'Switch check failed, the message passes on flagged.');
              slots[i] = [batch[i]!.withError(outcome)];
            } else if (outcome) taken.push(i);
            else left.push(i);
          }
          remaining = left;
          const input = [...carried.messages, ...taken.map((i) => batch[i]!)];
          const origins = carried.origins ? [...carried.origins, ...taken] : undefined;
          carried = { messages: [], origins: [] };
          if (input.length === 0) continue;
          const out = (await runProcessors(compiled[c]!.processors, [input])).flat();
          // One to one, each result stands where its message stood; otherwise the order is the children's.
          const oneToOne = origins !== undefined && out.length === input.length;
          if (compiled[c]!.fallthrough && c + 1 < compiled.length) {
            carried = { messages: out, origins: oneToOne ? origins : undefined };
            continue;
          }
          if (oneToOne) out.forEach((m, k) => (slots[origins[k]!] = [m]));
          else {
            // Results traced to one message of the batch (unarchive's parts) stand where it stood.
            const byTrace = traces(batch);
            for (const i of origins ?? []) slots[i] = [];
            for (const m of out) {
              const i = byTrace?.get(m.trace);
              if (i !== undefined && slots[i]) slots[i]!.push(m);
              else unordered.push(m);
            }
          }
        }
        for (const i of remaining) slots[i] = [batch[i]!];
        const result = [...slots.flatMap((s) => s ?? []), ...unordered];
        return result.length > 0 ? [result] : [];
      },
      close: async () => {
        await Promise.all(compiled.flatMap((c) => c.processors.map((p) => p.close())));
      },
    };
    return processor;
  },
});

/** Index of each message of the batch by its trace, when no two share one (else undefined). */
function traces(batch: readonly Message[]): Map<Message, number> | undefined {
  const map = new Map<Message, number>();
  for (const [i, m] of batch.entries()) {
    if (map.has(m.trace)) return undefined;
    map.set(m.trace, i);
  }
  return map;
}
