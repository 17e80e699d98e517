// Redpanda Connect's I/O fields: stdin scanners, stdout/file codecs, archive tar/zip with path
// and unarchive, auto_replay_nacks accepted; and the "Full" config blocks of Connect's docs for
// the components sluice has lint clean.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/components/index.js';
import type { Processor } from '../../src/engine/component.js';
import { Message } from '../../src/engine/message.js';
import { runCli } from '../support/cli.js';
import { withDefaults } from '../support/defaults.js';
import { testSettings } from '../support/settings.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-io-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const processor = (name: string, config: unknown) => {
  const spec = registry.get('processor', name)!;
  return spec.create(withDefaults(spec, config), testSettings()) as Processor;
};
const run = async (p: Processor, batch: Message[]) => (await p.process(batch)).flat();

describe('stdin scanner and stdout/file codecs', () => {
  it('scanner.lines.custom_delimiter cuts at it; stdout codec delim:X ends each message with X', async () => {
    const dir = folder({ 'c.yaml': `input: { stdin: { scanner: { lines: { custom_delimiter: "|" } } } }\noutput: { stdout: { codec: "delim:;" } }\n` });
    const { code, stdout } = await runCli(['run', join(dir, 'c.yaml')], {}, 'a|b|c');
    expect(code).toBe(0);
    expect(stdout).toBe('a;b;c;');
  });

  it('scanner.to_the_end reads everything as one message; codec append adds nothing', async () => {
    const dir = folder({ 'c.yaml': `input: { stdin: { scanner: { to_the_end: {} }, auto_replay_nacks: true } }\noutput: { stdout: { codec: append } }\n` });
    const { code, stdout } = await runCli(['run', join(dir, 'c.yaml')], {}, 'one\ntwo\n');
    expect(code).toBe(0);
    expect(stdout).toBe('one\ntwo\n');
  });

  it('file codec all-bytes writes each message to its own file, replacing what was there', async () => {
    const dir = folder({
      'c.yaml': `input: { stdin: {} }\noutput: { file: { path: './out/\${! n }.json', codec: all-bytes } }\n`,
    });
    writeFileSync(join(dir, 'stale'), '');
    const { code } = await runCli(['run', join(dir, 'c.yaml')], {}, '{"n":1}\n{"n":2}\n');
    expect(code).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['1.json', '2.json']);
    expect(readFileSync(join(dir, 'out', '2.json'), 'utf8')).toBe('{"n":2}');
  });
});

describe('archive tar/zip and unarchive', () => {
  it.each(['tar', 'zip'] as const)('archive %s names each file by path; unarchive gives the files back with archive_filename', async (format) => {
    const batch = [Message.fromJSON({ id: 'a' }, { k: 'v' }), Message.fromBytes('plain text')];
    const [archived] = await run(processor('archive', { format, path: '${! $batch_index() }.txt' }), batch);
    expect(archived!.parts).toEqual(batch);
    const files = await run(processor('unarchive', { format }), [archived!]);
    expect(files.map((m) => [m.metadata.archive_filename, m.text(), m.metadata.k])).toEqual([
      ['0.txt', '{"id":"a"}', 'v'],
      ['1.txt', 'plain text', 'v'],
    ]);
  });

  it('unarchive json_array, json_map, json_documents, lines and binary; a bad message passes on flagged', async () => {
    const texts = async (format: string, body: string) => (await run(processor('unarchive', { format }), [Message.fromBytes(body)])).map((m) => m.text());
    expect(await texts('json_array', '[{"a":1}, 2, "x"]')).toEqual(['{"a":1}', '2', '"x"']);
    expect(await texts('json_documents', '{"a":1} {"b":[1,"}"]}\n3 "s"')).toEqual(['{"a":1}', '{"b":[1,"}"]}', '3', '"s"']);
    expect(await texts('lines', 'a\r\nb\n\nc')).toEqual(['a', 'b', 'c']);
    const mapped = await run(processor('unarchive', { format: 'json_map' }), [Message.fromBytes('{"x":1,"y":2}')]);
    expect(mapped.map((m) => [m.metadata.archive_key, m.text()])).toEqual([['x', '1'], ['y', '2']]);
    const [binary] = await run(processor('archive', { format: 'binary' }), [Message.fromBytes('p'), Message.fromBytes('qq')]);
    expect((await run(processor('unarchive', { format: 'binary' }), [binary!])).map((m) => m.text())).toEqual(['p', 'qq']);
    const [bad] = await run(processor('unarchive', { format: 'json_array' }), [Message.fromBytes('{"not":"an array"}')]);
    expect(bad!.text()).toBe('{"not":"an array"}');
    expect(bad!.error?.message).toMatch(/expected a JSON array/);
  });
});

describe("Connect's Full config blocks lint clean", () => {
  it('for the inputs, processors and outputs sluice has', async () => {
    const dir = folder({
      'full.yaml': `
input:
  label: ""
  generate:
    mapping: '{}'
    interval: 1s
    count: 0
    batch_size: 1
    auto_replay_nacks: true
pipeline:
  threads: -1
  processors:
    - label: ""
      log: { level: INFO, fields_mapping: "", message: "" }
    - label: ""
      metric: { type: counter, name: x, labels: {}, value: "" }
    - label: ""
      archive: { format: json_array, path: "" }
    - label: ""
      unarchive: { format: json_array }
    - label: ""
      catch: []
output:
  label: ""
  drop_on:
    error: false
    error_patterns: []
    back_pressure: 30s
    output:
      fallback:
        - stdout: { codec: lines }
        - file: { path: "out.txt", codec: lines }
        - retry:
            max_retries: 0
            backoff: { initial_interval: 500ms, max_interval: 3s, max_elapsed_time: 0s }
            output: { reject_errored: { drop: {} } }
        - reject: "nope"
`,
      'stdin.yaml': `input: { label: "", stdin: { scanner: { lines: { custom_delimiter: "", max_buffer_size: 65536 } }, auto_replay_nacks: true } }\noutput: { drop: {} }\n`,
      'http_client.yaml': `
output:
  label: ""
  http_client:
    url: "http://localhost:4195/post"
    verb: POST
    headers: {}
    metadata: { include_prefixes: [], include_patterns: [] }
    dump_request_log_level: ""
    oauth: { enabled: false, consumer_key: "", consumer_secret: "", access_token: "", access_token_secret: "" }
    oauth2: { enabled: false, client_key: "", client_secret: "", token_url: "", scopes: [], endpoint_params: {} }
    basic_auth: { enabled: false, username: "", password: "" }
    jwt: { enabled: false, private_key_file: "", signing_method: "", claims: {}, headers: {} }
    tls: { enabled: false, skip_cert_verify: false, enable_renegotiation: false, root_cas: "", root_cas_file: "", client_certs: [] }
    extract_headers: { include_prefixes: [], include_patterns: [] }
    timeout: 5s
    retry_period: 1s
    max_retry_backoff: 300s
    retries: 3
    follow_redirects: true
    backoff_on: [ 429 ]
    drop_on: []
    successful_on: []
    proxy_url: ""
    disable_http2: false
    batch_as_multipart: false
    propagate_response: false
    max_in_flight: 64
    batching: { count: 0, byte_size: 0, period: "", check: "", processors: [] }
    multipart: []
`,
    });
    const { code, stderr } = await runCli(['lint', dir]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
