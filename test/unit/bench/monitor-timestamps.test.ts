/** Timestamps of `ip -ts monitor` and `bridge -timestamp monitor` lines (captured from iproute2 6.1, TZ=UTC). */
import t from 'tap';
import { parseBridgeTimestamp, splitIpTimestamp } from '../../../bench/monitor-timestamps.js';

t.test('ip -ts: microseconds kept, the rest handed on', async (t) => {
  const r = splitIpTimestamp('[2026-11-27T20:39:59.406700] [ROUTE]10.1.2.0/24 via 10.1.2.0 dev weft.1 proto 87 onlink ');
  t.equal(r.epochMs, Date.UTC(2026, 10, 27, 20, 39, 59) + 406.7);
  t.equal(r.rest, '[ROUTE]10.1.2.0/24 via 10.1.2.0 dev weft.1 proto 87 onlink ');
  t.same(splitIpTimestamp('[ROUTE]10.1.2.0/24 dev x'), { epochMs: undefined, rest: '[ROUTE]10.1.2.0/24 dev x' });
});

t.test('bridge -timestamp: its own line, ctime format plus usec', async (t) => {
  t.equal(parseBridgeTimestamp('Timestamp: Fri Nov 27 20:40:03 2026 521893 usec'), Date.UTC(2026, 10, 27, 20, 40, 3) + 521.893);
  t.equal(parseBridgeTimestamp('Timestamp: Mon Feb  2 01:02:03 2026 5 usec'), Date.UTC(2026, 1, 2, 1, 2, 3) + 0.005);
  t.equal(parseBridgeTimestamp('02:be:00:01:02:01 dev weft.1 dst 198.18.1.2 self permanent'), undefined);
  t.equal(parseBridgeTimestamp('Timestamp: Fri Foo 27 20:40:03 2026 1 usec'), undefined);
});
