// Routes each message to the outputs of the cases whose check it passes (Redpanda Connect's
// `switch` output): the first passing case takes it, unless that case says `continue`.
import { defineOutput, type ChildOutput, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import type { CompiledExpression } from '../../mapping/environment.js';
import { compileQuery } from '../../mapping/language.js';
import { combine, submitPart } from '../io/children.js';
import { WrapperOutput } from './wrapper.js';

export interface SwitchConfig {
  retry_until_success: boolean;
  strict_mode: boolean;
  cases: { check: string; output: unknown; continue: boolean }[];
}

export default defineOutput<SwitchConfig>({
  name: 'switch',
  summary: 'Sends each message to the output of the first case whose check passes (and on, where a case says continue); messages matching none are dropped.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['cases'],
    properties: {
      retry_until_success: {
        type: 'boolean',
        default: false,
        description:
          'Retry a failed case output until it succeeds, instead of failing the messages back to the input (which replays them to every case again). Set it when a message can go to several outputs.',
      },
      strict_mode: {
        type: 'boolean',
        default: false,
        description: 'A message matching no case fails back to the input, instead of being dropped.',
      },
      cases: {
        type: 'array',
        minItems: 1,
        description: 'The cases, tested in order for each message.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['output'],
          properties: {
            check: {
              type: 'string',
              default: '',
              description: 'A query (JSONata, or Bloblang when it reads as Bloblang) returning a boolean: true sends the message to this output. Empty always passes.',
            },
            output: { 'x-component': 'output', description: 'The output for the messages of this case.' },
            continue: { type: 'boolean', default: false, description: 'Test the next cases too, for a message that passed this one.' },
          },
        },
      },
    },
  },
  example: { cases: [{ check: 'type = "a"', output: { drop: {} } }, { output: { stdout: {} } }] },
  create: (config, settings) => new Switch(config, settings),
});

class Switch extends WrapperOutput {
  #cases: { check: CompiledExpression | undefined; output: ChildOutput; continue: boolean }[];
  #config: SwitchConfig;
  #settings: Settings;
  #closing = new AbortController();

  constructor(config: SwitchConfig, settings: Settings) {
    const cases = config.cases.map((c, i) => {
      let check: CompiledExpression | undefined;
      if (c.check.trim() !== '') {
        try {
          check = compileQuery(c.check);
        } catch (err) {
          throw Object.assign(err as Error, { field: `cases[${i}].check` });
        }
      }
      return { check, output: settings.build.output(c.output, `${settings.path}.cases[${i}].output`), continue: c.continue };
    });
    super(cases.map((c) => c.output));
    this.#cases = cases;
    this.#config = config;
    this.#settings = settings;
  }

  /**
   * Hands each case output the messages routed to it (in batch order). Delivered once every case
   * output delivered its part; a message matching no case is dropped (acked), or in strict mode
   * fails back to the input.
   */
  submit(batch: readonly Message[]): Submission {
    const routed = this.#route(batch).then(({ groups, unmatched }) => {
      const parts = groups.flatMap((messages, i) =>
        messages.length === 0 ? [] : [{ messages, submission: submitPart({ child: this.#cases[i]!.output, messages }, this.#config.retry_until_success, this.#closing.signal, this.#settings.logger) }],
      );
      const strict = this.#config.strict_mode && unmatched.length > 0;
      return combine(parts, strict ? { undelivered: unmatched, reason: 'no switch output conditions were met' } : undefined);
    });
    const accepted = routed.then((s) => s.accepted);
    const delivered = routed.then((s) => s.delivered);
    accepted.catch(() => {});
    return { accepted, delivered };
  }

  override async close(): Promise<void> {
    this.#closing.abort();
    await super.close();
  }

  async #route(batch: readonly Message[]): Promise<{ groups: Message[][]; unmatched: Message[] }> {
    const groups: Message[][] = this.#cases.map(() => []);
    const unmatched: Message[] = [];
    for (let index = 0; index < batch.length; index++) {
      const message = batch[index]!;
      let matched = false;
      for (let c = 0; c < this.#cases.length; c++) {
        const { check, continue: goOn } = this.#cases[c]!;
        if (check && !(await this.#passes(check, c, batch, index))) continue;
        groups[c]!.push(message);
        matched = true;
        if (!goOn) break;
      }
      if (!matched) unmatched.push(message);
    }
    return { groups, unmatched };
  }

  /** A check that fails or returns no boolean does not pass (logged), as in Connect. */
  async #passes(check: CompiledExpression, c: number, batch: readonly Message[], index: number): Promise<boolean> {
    try {
      const value = await check.evaluate({ message: batch[index]!, batch, index });
      if (typeof value === 'boolean') return value;
      this.#settings.logger.error({ case: c, value: value === undefined ? null : value }, 'Switch case check returned no boolean.');
    } catch (err) {
      this.#settings.logger.error({ case: c, err: (err as Error).message }, 'Switch case check failed.');
    }
    return false;
  }
}
