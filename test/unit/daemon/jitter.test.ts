import t from 'tap';
import { Backoff, jittered } from '../../../src/daemon/jitter.js';

t.test('jitter only shortens, within the spread', async (t) => {
  t.equal(jittered(1000, () => 0), 1000);
  t.equal(jittered(1000, () => 1), 500);
  t.equal(jittered(1000, () => 0.5, 0.2), 900);
});

t.test('backoff doubles to its cap, jittered, and resets', async (t) => {
  const b = new Backoff(100, 1000, () => 0);
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  t.equal(b.next(), 100);
  const spread = new Backoff(1000, 8000, () => 1);
  t.same([spread.next(), spread.next()], [500, 1000], 'random 1 halves each delay');
  const values = new Set<number>();
  let r = 0;
  const varied = new Backoff(1000, 1000, () => (r = (r + 0.37) % 1));
  for (let i = 0; i < 10; i++) values.add(varied.next());
  t.ok(values.size > 5, 'different draws give different delays (no lockstep)');
});
