// `sluice streams`: several pipelines in one process, one HTTP server, metrics labelled with stream.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('sluice streams', () => {
  it('serves an http_server input with no address of its own on the shared HTTP server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-streams-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'service.yaml'), 'http: { address: 127.0.0.1:0 }\n');
    writeFileSync(join(dir, 'a.yaml'), `input: { http_server: { path: /a } }\npipeline: { processors: [ { mapping: '"from a"' }, { sync_response: {} } ] }\noutput: { drop: {} }\n`);
    writeFileSync(join(dir, 'b.yaml'), `input: { http_server: { path: /b } }\npipeline: { processors: [ { mapping: '"from b"' }, { sync_response: {} } ] }\noutput: { drop: {} }\n`);
    const proc = startCli(['streams', '-o', join(dir, 'service.yaml'), join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    try {
      const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/);
      await proc.waitForLog(/Receiving HTTP messages at \/b/);
      await proc.waitForLog(/Receiving HTTP messages at \/a/);
      expect(await (await fetch(`${url}/a`, { method: 'POST', body: 'x' })).text()).toBe('from a');
      expect(await (await fetch(`${url}/b`, { method: 'POST', body: 'x' })).text()).toBe('from b');
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });

  it('runs each stream file as its own pipeline, sharing the HTTP server; metrics carry stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-streams-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'streams'));
    writeFileSync(join(dir, 'service.yaml'), 'http: { address: 127.0.0.1:0 }\nlogger: { level: INFO, format: json }\n');
    for (const id of ['ingest', 'export']) {
      writeFileSync(join(dir, 'streams', `${id}.yaml`), `input: { generate: { mapping: '{"s": "${id}"}', interval: 20ms } }\noutput: { label: ${id}_out, drop: {} }\n`);
    }
    const proc = startCli(['streams', '-o', join(dir, 'service.yaml'), join(dir, 'streams')]);
    try {
      const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/);
      let text = '';
      const started = Date.now();
      while (!/output_sent\{label="export_out",path="root.output",stream="export"\} [1-9]/.test(text) || !/stream="ingest"\} [1-9]/.test(text)) {
        if (Date.now() - started > 15_000) throw new Error(`no metrics of both streams in:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        text = await (await fetch(`${url}/metrics`)).text();
      }
      expect(text).toMatch(/^output_sent\{label="ingest_out",path="root.output",stream="ingest"\} [1-9]/m);
      // One HELP line per family, however many streams count into it.
      expect(text.match(/^# HELP output_sent /gm)).toHaveLength(1);
      const ready = (await (await fetch(`${url}/ready`)).json()) as { statuses: { path: string; connected: boolean }[] };
      expect(ready.statuses.map((s) => s.path).sort()).toEqual(['export.input', 'export.output', 'ingest.input', 'ingest.output']);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });
});
