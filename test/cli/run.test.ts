import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, startCli } from '../support/cli.js';
import { waitUntil } from '../support/wait.js';

function tempConfig(yaml: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-run-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return { dir, file };
}

describe('sluice run', () => {
  it('resolves every relative path in a config against its folder, and paths on the command line against the working directory', async () => {
    const { dir, file } = tempConfig(`
input: { stdin: {} }
pipeline:
  processors:
    - mapping: { file: mappings/double.jsonata }
buffer: { sqlite: { path: state/buffer.db } }
output: { file: { path: out/events.jsonl } }
http: { enabled: false }
`);
    mkdirSync(join(dir, 'mappings'));
    writeFileSync(join(dir, 'mappings', 'double.jsonata'), '{ "n": n * 2 }');
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-cwd-'));
    const run = (args: string[]) =>
      new Promise<{ code: number | null }>((resolve) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd });
        child.stdin.end('{"n":1}\n{"n":2}\n');
        child.on('exit', (code) => resolve({ code }));
      });
    expect(await run(['run', file])).toEqual({ code: 0 });
    expect(readFileSync(join(dir, 'out', 'events.jsonl'), 'utf8')).toBe('{"n":2}\n{"n":4}\n');
    expect(existsSync(join(dir, 'state', 'buffer.db'))).toBe(true);
    expect(readdirSync(cwd)).toEqual([]);
    // --output file:PATH and --state-dir are the user's paths: the working directory's.
    expect(await run(['run', file, '--output', 'file:dry/events.jsonl', '--state-dir', 'st'])).toEqual({ code: 0 });
    expect(readFileSync(join(cwd, 'dry', 'events.jsonl'), 'utf8')).toBe('{"n":2}\n{"n":4}\n');
    expect(readdirSync(cwd).sort()).toEqual(['dry', 'st']);
  });

  it('ends at once, quietly and with exit 0 when stdout is closed (`| head -2`), leaving no dry-run state behind', async () => {
    const { dir, file } = tempConfig(`
input: { generate: { interval: 1ms, mapping: '{"id": $uuid_v4()}' } }
output: { stdout: {} }
http: { enabled: false }
shutdown_timeout: 60s
`);
    const tmp = mkdtempSync(join(tmpdir(), 'sluice-epipe-'));
    const script = `"${process.execPath}" "${CLI}" run "${file}" --output stdout 2>"${dir}/stderr" | head -2; echo "\${PIPESTATUS[0]}" >"${dir}/code"`;
    const started = Date.now();
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { env: { ...process.env, TMPDIR: tmp } });
    // Well within shutdown_timeout: nothing waited for a stdout that is gone.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(readFileSync(join(dir, 'code'), 'utf8').trim()).toBe('0');
    const stderr = readFileSync(join(dir, 'stderr'), 'utf8');
    expect(stderr).not.toMatch(/EPIPE|Failed to send|level=(warn|error)/);
    // The dry run's throwaway state folder was removed on the way out.
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('runs a stdin -> mapping -> stdout pipeline to the end of input and exits 0', async () => {
    const { file } = tempConfig(`
input: { stdin: {} }
pipeline:
  processors:
    - mapping: '{ "user": user, "double": n * 2 }'
output: { stdout: {} }
http: { enabled: false }
`);
    const { code, stdout, stderr } = await runCli(['run', file], {}, '{"user":"a","n":1}\n{"user":"b","n":2}\n');
    expect(code).toBe(0);
    expect(stdout).toBe('{"user":"a","double":2}\n{"user":"b","double":4}\n');
    // Logs go to stderr, so stdout carries only data.
    expect(stderr).toMatch(/Pipeline has terminated/);
  });

  it('on SIGTERM flushes the partial batch, serves /ready and /metrics until then, and exits 0', async () => {
    const { dir, file } = tempConfig(`
input: { stdin: {} }
output:
  label: sink
  file:
    path: ${join('OUT_DIR', 'out.jsonl')}
    batching: { count: 100, period: 1h }
http: { address: 127.0.0.1:0 }
`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('OUT_DIR', dir));
    const proc = startCli(['run', file]);
    const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/);
    proc.child.stdin.write('{"n":1}\n{"n":2}\n{"n":3}\n');

    expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      statuses: [
        { label: '', path: 'input', connected: true },
        { label: 'sink', path: 'output', connected: true },
      ],
    });
    await waitUntil('three messages received', async () => /input_received\{label="",path="root.input"\} 3/.test(await (await fetch(`${url}/metrics`)).text()));

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    expect(proc.stderr).toMatch(/Received SIGTERM/);
  });

  it('exposes Redpanda Connect metric names labelled with label and path', async () => {
    const { file } = tempConfig(`
input:
  generate: { mapping: '{"n": 1}', interval: '', count: 1000000 }
pipeline:
  processors:
    - label: double
      mapping: 'n * 2'
output:
  label: nowhere
  drop: {}
http: { address: 127.0.0.1:0 }
`);
    const proc = startCli(['run', file]);
    const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/);
    let text = '';
    await waitUntil('messages sent', async () => /output_sent\{label="nowhere",path="root.output"\} [1-9]/.test((text = await (await fetch(`${url}/metrics`)).text())));
    for (const name of ['input_received', 'processor_received', 'processor_sent', 'output_sent', 'output_batch_sent', 'output_latency_ns']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    expect(text).toMatch(/processor_received\{label="double",path="root.pipeline.processors.0"\} \d+/);
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  });
});
