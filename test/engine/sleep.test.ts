import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/engine/sleep.js';

describe('sleep', () => {
  it('resolves when any of its signals aborts', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, a.signal, undefined, b.signal);
    setTimeout(() => b.abort(), 10);
    await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('resolves at once for an aborted signal', async () => {
    await sleep(60_000, AbortSignal.abort());
  });

  it('yields to I/O once for a zero wait, in order with setImmediate, not after a timer', async () => {
    const order: string[] = [];
    setTimeout(() => order.push('timer'), 0);
    setImmediate(() => order.push('immediate'));
    await sleep(0);
    order.push('slept');
    expect(order.indexOf('slept')).toBeGreaterThan(order.indexOf('immediate'));
  });
});
