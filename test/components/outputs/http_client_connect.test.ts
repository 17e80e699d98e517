// http_client fields and rules as Redpanda Connect has them: redirects, drop_on against splitting,
// mutual TLS, explicit multipart parts, and a constant retry_period (OpenMeter's 15s stays 15s).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import httpClient from '../../../src/components/outputs/http_client.js';
import type { Output } from '../../../src/engine/component.js';
import type { DeliveryError } from '../../../src/engine/delivery.js';
import { Message } from '../../../src/engine/message.js';
import { oauth1Header } from '../../../src/components/http/signers.js';
import { buildOutput, jsonArchive } from '../../support/outputs.js';

const TLS = (name: string) => fileURLToPath(new URL(`../../support/tls/${name}`, import.meta.url));
const never = () => new AbortController().signal;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
  /** The client certificate's subject CN (Node gives an array when the subject repeats CN). */
  peer?: string | string[];
}

/** A loopback server (HTTP, or HTTPS with `tls` options) recording requests and answering with `respond`. */
async function server(respond: (req: Recorded, res: ServerResponse) => void, tls?: Parameters<typeof createHttpsServer>[0]) {
  const requests: Recorded[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = tls ? (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN : undefined;
      const recorded = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now(), peer };
      requests.push(recorded);
      respond(recorded, res);
    });
  };
  const s: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve))));
  return { url: `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${(s.address() as AddressInfo).port}`, requests };
}

async function client(config: Record<string, unknown>): Promise<Output> {
  const output = buildOutput(httpClient, { headers: { 'Content-Type': 'application/json' }, retry_period: '5ms', ...config }, []);
  closers.push(() => output.close());
  await output.connect(never());
  return output;
}

const event = (i: number) => Message.fromJSON({ id: `evt-${i}` });

describe('http_client follow_redirects', () => {
  it('follows a 307 (default) and re-sends the same body to the new location', async () => {
    const sink = await server((req, res) => {
      if (req.url === '/old') res.writeHead(307, { location: '/new' }).end();
      else res.writeHead(200).end();
    });
    await (await client({ url: `${sink.url}/old` })).write([event(1)], never());
    expect(sink.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual(['POST /old {"id":"evt-1"}', 'POST /new {"id":"evt-1"}']);
  });

  it('follow_redirects: false counts a 3xx as success, as Connect, without following it', async () => {
    const sink = await server((_req, res) => res.writeHead(307, { location: '/new' }).end());
    await (await client({ url: `${sink.url}/old`, follow_redirects: false })).write([event(1)], never());
    expect(sink.requests.map((r) => r.url)).toEqual(['/old']);
  });
});

describe('http_client drop_on and split_on_bad_request', () => {
  it('a 400 in drop_on fails the batch at once: no retry, no split, given up whole with Bad Request', async () => {
    const sink = await server((_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end('bad event'));
    const output = await client({ url: sink.url, drop_on: [400] });
    const message = jsonArchive(Array.from({ length: 8 }, (_, i) => event(i)));
    const error = (await output.write([message], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(sink.requests).toHaveLength(1);
    expect(error.message).toMatch(/\(400\): 400 Bad Request, Error: bad event$/);
    expect(error.givenUp.map((g) => g.message)).toEqual([message]);
  });

  it('without drop_on, the same 400 is split to isolate the invalid event', async () => {
    const sink = await server((req, res) => res.writeHead(req.body.includes('evt-3') ? 400 : 200).end());
    const output = await client({ url: sink.url });
    const error = (await output.write([jsonArchive(Array.from({ length: 8 }, (_, i) => event(i)))], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(sink.requests.length).toBeGreaterThan(1);
    expect(error.givenUp).toHaveLength(1);
  });
});

describe('http_client retry_period as Connect', () => {
  it("OpenMeter's retry_period with 3 retries waits the same period between every attempt of a 401", async () => {
    const sink = await server((_req, res) => res.writeHead(401).end('unauthorized'));
    const output = await client({ url: sink.url, retries: 3, retry_period: '150ms', max_retry_backoff: '1m' });
    await expect(output.write([event(1)], never())).rejects.toThrow(/\(401\).*\(after 4 attempts\)$/);
    const gaps = sink.requests.slice(1).map((r, i) => r.at - sink.requests[i]!.at);
    expect(gaps).toHaveLength(3);
    // Exponential would be 150, 300, 600: each gap stays near the period instead.
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(148);
      expect(gap).toBeLessThan(290);
    }
  });
});

describe('http_client tls.client_certs (mutual TLS)', () => {
  const serverTls = {
    cert: readFileSync(TLS('localhost.crt')),
    key: readFileSync(TLS('localhost.key')),
    ca: readFileSync(TLS('client-ca.crt')),
    requestCert: true,
    rejectUnauthorized: true,
  };

  it('presents the client certificate from files; the server, requiring one, accepts it', async () => {
    const sink = await server((_req, res) => res.writeHead(200).end(), serverTls);
    const output = await client({
      url: sink.url,
      tls: { enabled: true, root_cas_file: TLS('localhost.crt'), client_certs: [{ cert_file: TLS('client.crt'), key_file: TLS('client.key') }] },
    });
    await output.write([event(1)], never());
    expect(sink.requests.map((r) => r.peer)).toEqual(['sluice-client']);
  });

  it('takes the certificate inline with an encrypted key and its password', async () => {
    const sink = await server((_req, res) => res.writeHead(200).end(), serverTls);
    const output = await client({
      url: sink.url,
      tls: {
        enabled: true,
        root_cas: readFileSync(TLS('localhost.crt'), 'utf8'),
        client_certs: [{ cert: readFileSync(TLS('client.crt'), 'utf8'), key: readFileSync(TLS('client-encrypted.key'), 'utf8'), password: 'hunter2' }],
      },
    });
    await output.write([event(1)], never());
    expect(sink.requests.map((r) => r.peer)).toEqual(['sluice-client']);
  });

  it('without a client certificate the handshake fails and the write fails', async () => {
    const sink = await server((_req, res) => res.writeHead(200).end(), serverTls);
    const output = await client({ url: sink.url, retries: 0, tls: { enabled: true, root_cas_file: TLS('localhost.crt') } });
    await expect(output.write([event(1)], never())).rejects.toThrow();
    expect(sink.requests).toHaveLength(0);
  });
});

describe('http_client multipart', () => {
  it('sends the configured parts, interpolated against the message, as one multipart/form-data request', async () => {
    const sink = await server((_req, res) => res.writeHead(200).end());
    const output = await client({
      url: sink.url,
      multipart: [
        { content_type: 'application/json', content_disposition: 'form-data; name="event"', body: '${! $content() }' },
        { content_type: 'text/plain', content_disposition: 'form-data; name="id"', body: '${! id }' },
      ],
    });
    await output.write([event(7)], never());
    const [request] = sink.requests;
    const boundary = /boundary=(\S+)/.exec(String(request!.headers['content-type']))![1]!;
    const parts = request!.body.split(`--${boundary}`).slice(1, -1).map((p) => p.trim());
    expect(parts).toEqual([
      'Content-Type: application/json\r\nContent-Disposition: form-data; name="event"\r\n\r\n{"id":"evt-7"}',
      'Content-Type: text/plain\r\nContent-Disposition: form-data; name="id"\r\n\r\nevt-7',
    ]);
  });
});

describe('http_client jwt and oauth (1.0a)', () => {
  it('jwt: each request carries a bearer JWT of the claims, signed with the private key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-jwt-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const sink = await server((_req, res) => res.writeHead(200).end());
    const output = await client({ url: sink.url, jwt: { enabled: true, private_key_file: join(dir, 'key.pem'), signing_method: 'ES256', claims: { sub: 'collector' }, headers: { kid: 'k1' } } });
    await output.write([event(1)], never());
    const token = String(sink.requests[0]!.headers.authorization).replace(/^Bearer /, '');
    const [header, payload, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ kid: 'k1', alg: 'ES256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toMatchObject({ sub: 'collector', iat: expect.any(Number) });
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url'))).toBe(true);
  });

  it("oauth: the HMAC-SHA1 signature of RFC 5849's example request", () => {
    const header = oauth1Header(
      { enabled: true, consumer_key: 'dpf43f3p2l4k3l03', consumer_secret: 'kd94hf93k423kf44', access_token: 'nnch734d00sl2jdk', access_token_secret: 'pfkkdhi9sl3r4s00' },
      'GET',
      'http://photos.example.net/photos?file=vacation.jpg&size=original',
      1191242096 * 1000,
      'kllo9940pd9333jh',
    );
    expect(header).toContain('oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"');
    expect(header).toMatch(/^OAuth oauth_consumer_key="dpf43f3p2l4k3l03", /);
  });
});
