// The README's "A pipeline" section and "Writing a mapping" tutorial, run as a reader would: its files are written from the
// README's own blocks into a fresh folder, and each `$ bin/sluice ...` command in a console block
// is run there, its output compared with the lines printed under it (`...` elides the rest of a
// line). A README that drifts from the tool fails here.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI } from './support/cli.js';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

interface Block {
  readonly lang: string;
  readonly body: string;
  readonly line: number;
}

/** The fenced blocks of a README section. */
function blocks(section: string): Block[] {
  const start = README.indexOf(`\n## ${section}\n`);
  const end = README.indexOf('\n## ', start + 1);
  const text = README.slice(start, end === -1 ? undefined : end);
  const offset = README.slice(0, start).split('\n').length;
  return [...text.matchAll(/(<!-- readme\.test\.ts: not run[^>]*-->\n)?```(\w*)\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === undefined)
    .map((m) => ({ lang: m[2]!, body: m[3]!, line: offset + text.slice(0, m.index).split('\n').length - 1 }));
}

/** The tutorial's files: workload.json, the mapping, and every block headed `# <file>`. */
function tutorialFiles(tutorial: Block[]): Map<string, string> {
  const files = new Map<string, string>();
  const workload = tutorial.find((b) => b.lang === 'json')!.body;
  files.set('workload.json', workload);
  // A capture whose second line has "a GPU count that is not a number".
  const lots = JSON.parse(workload) as { allocatedResources: { gpu: unknown } };
  lots.allocatedResources.gpu = 'lots';
  files.set('workloads.jsonl', `${JSON.stringify(JSON.parse(workload))}\n${JSON.stringify(lots)}\n`);
  const mapping = tutorial.find((b) => b.lang === 'jsonata')!.body;
  files.set('mappings/runai_workload.jsonata', mapping);
  // "the mapping above with the comma after `"type": type` removed"
  files.set('broken.jsonata', mapping.replace('"type": type,', '"type": type'));
  for (const b of tutorial.filter((b) => b.lang === 'yaml')) {
    const name = /^# (\S+\.ya?ml)\n/.exec(b.body)?.[1];
    if (name) files.set(name, b.body);
  }
  return files;
}

interface Command {
  readonly command: string;
  readonly expected: string[];
  readonly line: number;
}

/** `$ ` lines (with `\` continuations) and the output lines under each. */
function commands(block: Block): Command[] {
  const out: { command: string; expected: string[]; line: number }[] = [];
  const lines = block.body.trimEnd().split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      while (command.endsWith('\\')) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
      out.push({ command, expected: [], line: block.line + i + 1 });
    } else out.at(-1)?.expected.push(line);
  }
  return out;
}

/** A printed line as a pattern: `...` stands for anything. */
const pattern = (line: string) => new RegExp(`^${line.split('...').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

const tutorial = [...blocks('A pipeline'), ...blocks('Writing a mapping')];
const cases = tutorial.filter((b) => b.lang === 'console').flatMap(commands);

describe("the README's mapping tutorial", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
  for (const [name, text] of tutorialFiles(tutorial)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }

  it('has the blocks this test reads', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6);
    expect(existsSync(join(dir, 'collector.yaml'))).toBe(true);
  });

  it('collector.yaml lints clean once its credentials are set, and its tests pass', async () => {
    const env = { ...process.env, RUNAI_URL: 'https://myorg.run.ai', RUNAI_APP_ID: 'app', RUNAI_APP_SECRET: 'secret', OPENMETER_TOKEN: 'om_token' };
    const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { cwd: dir, env });
    await expect(run(['lint', 'collector.yaml'])).resolves.toEqual({ stdout: '', stderr: '' });
    const tested = await run(['test', 'collector.yaml']);
    expect(tested.stdout).toMatch(/^\d+ passed, 0 failed$/m);
  });

  it.each(cases.map((c) => [`README.md:${c.line} ${c.command}`, c] as const))('%s', async (_, { command, expected }) => {
    const shell = command.replace(/^bin\/sluice /, `"${process.execPath}" "${CLI}" `);
    // The environment a reader starts with: none of the variables the README's configs read.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(RUNAI_|OPENMETER_)/.test(k)));
    const { stdout, stderr } = await promisify(execFile)('bash', ['-c', `${shell} 2>&1; true`], { cwd: dir, env }).catch((err: { stdout: string; stderr: string }) => err);
    const printed = `${stdout}${stderr}`.trimEnd().split('\n');
    expect(printed.length, printed.join('\n')).toBe(expected.length);
    printed.forEach((line, i) => expect(line).toMatch(pattern(expected[i]!)));
  });
});
