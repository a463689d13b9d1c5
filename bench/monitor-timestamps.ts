/**
 * The timestamps iproute2's monitors print when asked, so a change is timed
 * when the monitor process received it, not when the bench got round to
 * reading the pipe (a bench busy spawning `ip` read a deletion and its repair
 * in one chunk: 0 ms). Both print local time: the bench runs them with TZ=UTC.
 *   ip -ts monitor …        `[2026-11-27T20:39:59.406700] [ROUTE]10.1.2.0/24 via …`
 *   bridge -timestamp monitor fdb    `Timestamp: Fri Nov 27 20:40:03 2026 521893 usec` on its own
 *                                    line before each message
 * Results are epoch milliseconds (fractional).
 */

const IP_TS = /^\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})\] ?/;
const BRIDGE_TS = /^Timestamp: \w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) (\d{1,6}) usec$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `ip -ts` line → its timestamp and the line without it; undefined timestamp when it has none. */
export function splitIpTimestamp(line: string): { epochMs: number | undefined; rest: string } {
  const m = IP_TS.exec(line);
  if (!m) return { epochMs: undefined, rest: line };
  const [y, mo, d, h, mi, s, us] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return { epochMs: Date.UTC(y, mo - 1, d, h, mi, s) + us / 1000, rest: line.slice(m[0].length) };
}

/** A `bridge -timestamp` `Timestamp: …` line → epoch ms; undefined for any other line. */
export function parseBridgeTimestamp(line: string): number | undefined {
  const m = BRIDGE_TS.exec(line.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1] ?? '');
  if (month < 0) return undefined;
  const [d, h, mi, s, y, us] = m.slice(2).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, month, d, h, mi, s) + us / 1000;
}
