import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Wakeup } from '../../../src/daemon/wakeup.js';

/** How long `wait` took, in ms (Wakeup uses real timers). */
async function timed(wait: Promise<void>): Promise<number> {
  const started = performance.now();
  await wait;
  return performance.now() - started;
}

const never = new AbortController().signal;

t.test('times out without a ring', async (t) => {
  const wake = new Wakeup();
  const ms = await timed(wake.wait(60, never));
  t.ok(ms >= 50, `waited ${ms.toFixed(1)} ms for a 60 ms timeout`);
});

t.test('a ring during a wait wakes it at once', async (t) => {
  const wake = new Wakeup();
  const waiting = timed(wake.wait(10_000, never));
  await sleep(10);
  wake.ring();
  const ms = await waiting;
  t.ok(ms < 1_000, `woke after ${ms.toFixed(1)} ms`);
  t.ok(await timed(wake.wait(60, never)) >= 50, 'the ring was consumed: the next wait times out');
});

t.test('rings while nobody waits coalesce into one wakeup', async (t) => {
  const wake = new Wakeup();
  wake.ring();
  wake.ring();
  wake.ring();
  t.ok(await timed(wake.wait(10_000, never)) < 1_000, 'the next wait returns at once');
  t.ok(await timed(wake.wait(60, never)) >= 50, 'only once');
});

t.test('abort ends a wait', async (t) => {
  const wake = new Wakeup();
  const ac = new AbortController();
  const waiting = timed(wake.wait(10_000, ac.signal));
  await sleep(10);
  ac.abort();
  t.ok(await waiting < 1_000, 'woke on abort');
  t.ok(await timed(wake.wait(10_000, ac.signal)) < 1_000, 'an aborted signal never waits');
  const fresh = timed(wake.wait(60, never));
  wake.ring();
  t.ok(await fresh < 1_000, 'rings still work after an aborted wait');
});
