/** The bench's /proc parsers (proc(5)); fixtures shaped like Linux 6.x output. */
import t from 'tap';
import { parseProcStat, statusKb } from '../../../bench/proc-stat.js';

t.test('stat: utime, stime, cutime, cstime after a command name with spaces and parentheses', async (t) => {
  const line = '4242 (node (weftd) x) S 1 4242 4242 0 -1 4194560 9017 312 0 0 137 41 12 7 20 0 11 0 884 1146880 23000 18446744073709551615';
  t.same(parseProcStat(line), { comm: 'node (weftd) x', utime: 137, stime: 41, cutime: 12, cstime: 7 });
});

t.test('stat: a line that is not one fails with what it got', async (t) => {
  t.throws(() => parseProcStat('garbage'), /not a \/proc\/<pid>\/stat line: "garbage"/);
  t.throws(() => parseProcStat('1 (x) S 1 2'), /no numeric field 14/);
});

t.test('status: kB fields, absent ones undefined', async (t) => {
  const text = 'Name:\tnode\nVmHWM:\t   97532 kB\nVmRSS:\t   90112 kB\nThreads:\t11\n';
  t.equal(statusKb(text, 'VmRSS'), 90112);
  t.equal(statusKb(text, 'VmHWM'), 97532);
  t.equal(statusKb(text, 'VmSwap'), undefined);
});
