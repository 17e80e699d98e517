// The benchmarks' HTTP sink, run in its own process (see startSink): answers every request 204
// and counts what it accepted. Each body is a JSON array of events (or one event). `stall` holds
// requests unanswered until `resume`; a request whose client gave up meanwhile is not counted, so
// the count is exactly what the sink acknowledged. Unique ids are tracked when asked to, to tell
// lost events from duplicates.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Starts the sink in a child process; resolves a handle once it listens. */
export async function startSink({ trackIds = false } = {}) {
  const child = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const waiting = new Map();
  child.on('message', (m) => {
    waiting.get(m.seq)?.(m);
    waiting.delete(m.seq);
  });
  const call = (type, extra = {}) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, resolve);
      child.send({ type, seq: id, ...extra }, (err) => err && reject(err));
    });
  const ready = await call('listen', { trackIds });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    pid: child.pid,
    /** { requests, events, unique, duplicates, bytes, first, last, cpuMs, held, rssMB } (times: performance.now() of the sink). */
    stats: () => call('stats'),
    reset: () => call('reset'),
    stall: () => call('stall'),
    resume: () => call('resume'),
    /** Resolves once `events` events were counted (or rejects after timeoutMs). */
    waitFor: (events, timeoutMs) => call('waitFor', { events, timeoutMs }),
    async close() {
      child.kill();
      await once(child, 'exit');
    },
  };
}

if (process.argv.includes('--child')) {
  let trackIds = false;
  let state;
  const reset = () => {
    state = { requests: 0, events: 0, duplicates: 0, bytes: 0, first: 0, last: 0, ids: new Set(), cpu: process.cpuUsage() };
  };
  reset();
  let stalled = false;
  const held = [];
  const watchers = [];

  const accept = (res, body) => {
    if (res.destroyed || res.socket?.destroyed) return;
    res.writeHead(204).end();
    const now = performance.now();
    state.first ||= now;
    state.last = now;
    state.requests++;
    state.bytes += body.length;
    if (trackIds) {
      let parsed;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = [];
      }
      for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
        const id = event?.id;
        if (state.ids.has(id)) state.duplicates++;
        else {
          state.ids.add(id);
          state.events++;
        }
      }
    } else state.events += countEvents(body);
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (state.events >= watchers[i].events) watchers.splice(i, 1)[0].done();
    }
  };

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (stalled) held.push([res, body]);
      else accept(res, body);
    });
  });
  server.keepAliveTimeout = 65_000;

  const stats = () => {
    const cpu = process.cpuUsage(state.cpu);
    return {
      requests: state.requests,
      events: state.events,
      unique: trackIds ? state.ids.size : undefined,
      duplicates: state.duplicates,
      bytes: state.bytes,
      first: state.first,
      last: state.last,
      cpuMs: (cpu.user + cpu.system) / 1000,
      held: held.length,
      rssMB: process.memoryUsage().rss / 2 ** 20,
    };
  };

  process.on('message', (m) => {
    const reply = (extra = {}) => process.send({ seq: m.seq, ...extra });
    switch (m.type) {
      case 'listen':
        trackIds = m.trackIds;
        server.listen(0, '127.0.0.1', () => reply({ port: server.address().port }));
        break;
      case 'stats':
        reply(stats());
        break;
      case 'reset':
        reset();
        reply();
        break;
      case 'stall':
        stalled = true;
        reply(stats());
        break;
      case 'resume': {
        stalled = false;
        const before = stats();
        const live = held.filter(([res]) => !res.destroyed && !res.socket?.destroyed).length;
        for (const [res, body] of held.splice(0)) accept(res, body);
        reply({ ...stats(), held: before.held, live });
        break;
      }
      case 'waitFor': {
        if (state.events >= m.events) return reply({ ok: true, ...stats() });
        const watcher = { events: m.events, done: () => (clearTimeout(timer), reply({ ok: true, ...stats() })) };
        const timer = setTimeout(() => {
          watchers.splice(watchers.indexOf(watcher), 1);
          reply({ ok: false, ...stats() });
        }, m.timeoutMs ?? 600_000);
        watchers.push(watcher);
        break;
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/**
 * Events in a body without parsing it, so the sink stays cheap next to what it measures: a JSON
 * array of objects is counted by the occurrences of its first element's opening (`{"id":`), which
 * in the benchmarks' events appears once per event; anything else is one event. (With trackIds
 * the body is parsed and every id checked instead.)
 */
function countEvents(body) {
  if (body[0] !== 0x5b || body[1] !== 0x7b) return 1;
  const marker = body.subarray(1, body.indexOf(0x3a) + 1);
  let count = 0;
  for (let at = body.indexOf(marker); at !== -1; at = body.indexOf(marker, at + marker.length)) count++;
  return count;
}
