import t from 'tap';
import { Wakeup } from '../../../src/daemon/wakeup.js';
import { ManualClock, settle } from '../../fakes/manual-clock.js';

const never = new AbortController().signal;

/** Starts a wait and reports whether it has finished after the clock moved `advanceMs`. */
async function doneAfter(clock: ManualClock, wait: Promise<void>, advanceMs: number): Promise<boolean> {
  let done = false;
  void wait.then(() => { done = true; });
  await clock.advance(advanceMs);
  await settle();
  return done;
}

t.test('times out on the injected clock, without a ring', async (t) => {
  const clock = new ManualClock();
  const wake = new Wakeup(clock);
  const waiting = wake.wait(60, never);
  t.notOk(await doneAfter(clock, waiting, 59), 'still waiting 1 ms before the timeout');
  t.ok(await doneAfter(clock, waiting, 1), 'done at the timeout');
});

t.test('a ring during a wait wakes it at once', async (t) => {
  const clock = new ManualClock();
  const wake = new Wakeup(clock);
  const waiting = wake.wait(10_000, never);
  await settle();
  wake.ring();
  t.ok(await doneAfter(clock, waiting, 0), 'woke without the clock moving');
  const next = wake.wait(60, never);
  t.notOk(await doneAfter(clock, next, 30), 'the ring was consumed: the next wait waits');
  t.ok(await doneAfter(clock, next, 30), 'and times out');
});

t.test('rings while nobody waits coalesce into one wakeup', async (t) => {
  const clock = new ManualClock();
  const wake = new Wakeup(clock);
  wake.ring();
  wake.ring();
  wake.ring();
  t.ok(await doneAfter(clock, wake.wait(10_000, never), 0), 'the next wait returns at once');
  t.notOk(await doneAfter(clock, wake.wait(60, never), 30), 'only once');
});

t.test('abort ends a wait', async (t) => {
  const clock = new ManualClock();
  const wake = new Wakeup(clock);
  const ac = new AbortController();
  const waiting = wake.wait(10_000, ac.signal);
  await settle();
  ac.abort();
  t.ok(await doneAfter(clock, waiting, 0), 'woke on abort');
  t.ok(await doneAfter(clock, wake.wait(10_000, ac.signal), 0), 'an aborted signal never waits');
  const fresh = wake.wait(60, never);
  await settle();
  wake.ring();
  t.ok(await doneAfter(clock, fresh, 0), 'rings still work after an aborted wait');
});
