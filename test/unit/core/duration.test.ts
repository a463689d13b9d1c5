import t from 'tap';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

t.test('parseDuration', async (t) => {
  const table: [string, number | undefined][] = [
    ['90', 90 * S], ['1.5', 1500], ['0', 0], [' 5m ', undefined], ['5m ', undefined], ['7d', 7 * 24 * H],
    ['30m1h', undefined], ['1s1s', undefined], ['10S', undefined], ['1h30', undefined], ['1e3', undefined], ['+5s', undefined], ['1w', undefined],
    ['90s', 90 * S], ['15m', 15 * M], ['24h', 24 * H], ['1d', 24 * H], ['500ms', 500], ['1h30m', H + 30 * M],
    ['1.5h', 90 * M], ['2m500ms', 2 * M + 500], ['1h1m1s', H + M + S], ['0s', 0],
    ['', undefined], ['abc', undefined], ['5x', undefined], ['1h 30m', undefined], ['-5s', undefined], ['5m10', undefined],
    ['h', undefined], ['1.s', undefined], ['s5', undefined],
  ];
  for (const [text, ms] of table) t.equal(parseDuration(text), ms, JSON.stringify(text));
});

t.test('formatDuration', async (t) => {
  const table: [number, string][] = [
    [0, '0ms'], [999, '999ms'], [1000, '1s'], [2500, '2.5s'], [59 * S, '59s'], [60 * S + 500, '60.5s'],
    [M, '1m'], [90 * S, '1m30s'], [H + 30 * M, '1h30m'], [H + M + S, '1h1m1s'], [H + 5 * S, '1h5s'],
    [24 * H, '24h'], [48 * H, '48h'],
  ];
  for (const [ms, text] of table) t.equal(formatDuration(ms), text, String(ms));
});

t.test('what formatDuration writes, parseDuration reads back', async (t) => {
  for (const ms of [0, 1, 999, 1000, 2500, 59 * S, M, 90 * S, 23 * H + 59 * M + 59 * S, 24 * H, 30 * 24 * H]) {
    t.equal(parseDuration(formatDuration(ms)), ms, `${ms} → ${formatDuration(ms)}`);
  }
});
