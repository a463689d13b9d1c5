import { pino } from 'pino';
import t from 'tap';
import { ConfigError, RegistryError, SubnetExhaustedError } from '../../../src/core/errors.js';
import { retryAtStartup } from '../../../src/daemon/startup-retry.js';
import { ManualClock } from '../../fakes/manual-clock.js';

const log = pino({ level: 'silent' });

t.test('registry errors are retried with capped, jittered backoff until the step succeeds', async (t) => {
  const clock = new ManualClock();
  const at: number[] = [];
  let calls = 0;
  const step = async (): Promise<string> => {
    at.push(clock.now());
    if (++calls < 8) throw new RegistryError('etcd list leases failed: connection refused');
    return 'held';
  };
  const done = retryAtStartup('acquire', step, { clock, random: () => 0, log, minMs: 500, maxMs: 4000 }, new AbortController().signal);
  await clock.advance(60_000);
  t.equal(await done, 'held');
  t.same(at.slice(1).map((v, i) => v - (at[i] ?? 0)), [500, 1000, 2000, 4000, 4000, 4000, 4000], 'doubling, capped');
  const jitterClock = new ManualClock();
  const times: number[] = [];
  let n = 0;
  const r = [0.9, 0.1, 0.5];
  const jitteredRun = retryAtStartup('acquire', async () => { times.push(jitterClock.now()); if (++n < 4) throw new RegistryError('x'); }, { clock: jitterClock, random: () => r[n - 1] ?? 0, log, minMs: 1000, maxMs: 1000 }, new AbortController().signal);
  await jitterClock.advance(10_000);
  await jitteredRun;
  t.same(times.slice(1).map((v, i) => v - (times[i] ?? 0)), [550, 950, 750], 'each wait drawn from the injected random');
});

t.test('anything else is a real start-up failure', async (t) => {
  const clock = new ManualClock();
  await t.rejects(retryAtStartup('acquire', async () => { throw new SubnetExhaustedError('no free subnet'); }, { clock, random: () => 0, log }, new AbortController().signal), SubnetExhaustedError);
  await t.rejects(retryAtStartup('acquire', async () => { throw new ConfigError('bad', []); }, { clock, random: () => 0, log }, new AbortController().signal), ConfigError);
});

t.test('a stop ends the waiting', async (t) => {
  const clock = new ManualClock();
  const ac = new AbortController();
  const run = retryAtStartup('acquire', async () => { throw new RegistryError('down'); }, { clock, random: () => 0, log }, ac.signal);
  await clock.advance(2000);
  ac.abort(new Error('shutting down'));
  await t.rejects(run, /shutting down/);
});
