/** The bench's summaries: nearest-rank percentiles that always name a measured sample. */
import t from 'tap';
import { formatMs, percentile, spread } from '../../../bench/stats.js';

t.test('nearest-rank percentiles', async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  t.equal(percentile(hundred, 50), 50);
  t.equal(percentile(hundred, 99), 99);
  t.equal(percentile(hundred, 100), 100);
  t.equal(percentile([7], 99), 7);
  t.ok(Number.isNaN(percentile([], 50)));
  t.equal(percentile([1, 2, Infinity], 99), Infinity, 'a timeout counts as the largest sample');
});

t.test('formatting', async (t) => {
  t.equal(formatMs(1234), '1.23 s');
  t.equal(formatMs(123.4), '123 ms');
  t.equal(formatMs(12.34), '12.3 ms');
  t.equal(formatMs(Infinity), '∞');
  t.equal(spread([3, 1, 2], (x) => `${x}`), '2 (1–3, 3 runs)');
  t.equal(spread([5], (x) => `${x}`), '5 (1 run)');
});
