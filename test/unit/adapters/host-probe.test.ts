import t from 'tap';
import { LocalHostProbe } from '../../../src/adapters/host-probe.js';
import type { CommandRunner } from '../../../src/adapters/iproute2/runner.js';

t.test('ping: through the device, ping -6 for an IPv6 peer address; the summary line is kept', async (t) => {
  const calls: string[][] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    return args.includes('fd00:10:0:2::')
      ? { exitCode: 1, stdout: '2 packets transmitted, 0 received, 100% packet loss, time 1020ms\n', stderr: '' }
      : { exitCode: 0, stdout: '2 packets transmitted, 2 received, 0% packet loss, time 201ms\n', stderr: '' };
  };
  const probe = new LocalHostProbe(runner);
  t.same(await probe.ping('weft.1', '10.5.2.0'), { replied: true, output: '2 packets transmitted, 2 received, 0% packet loss, time 201ms' });
  t.same(await probe.ping('weft-v6.1', 'fd00:10:0:2::'), { replied: false, output: '2 packets transmitted, 0 received, 100% packet loss, time 1020ms' });
  t.same(calls, [
    ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-I', 'weft.1', '10.5.2.0'],
    ['ping', '-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-I', 'weft-v6.1', 'fd00:10:0:2::'],
  ]);
});
