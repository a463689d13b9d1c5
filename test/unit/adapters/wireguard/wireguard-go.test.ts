import t from 'tap';
import { detectWireguard, wireguardGoCommand } from '../../../../src/adapters/wireguard/wireguard-go.js';
import type { CommandRunner } from '../../../../src/adapters/iproute2/runner.js';

t.test('production: wireguard-go itself in the foreground, no shell', async (t) => {
  t.same(wireguardGoCommand({ device: 'weft-wg' }), { file: 'wireguard-go', args: ['-f', 'weft-wg'], env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' } });
  t.same(wireguardGoCommand({ device: 'weft-wg', socketDir: '/run/wireguard', logLevel: 'verbose' }).args, ['-f', 'weft-wg']);
});

t.test('a test host: its netns, its own socket directory through a fixed script with positional values', async (t) => {
  const cmd = wireguardGoCommand({ device: 'weft-wg', netns: 'wgx-a', socketDir: '/tmp/a b/$(reboot)', binary: '/usr/bin/wireguard-go' });
  t.equal(cmd.file, 'ip');
  t.same(cmd.args.slice(0, 3), ['netns', 'exec', 'wgx-a']);
  t.same(cmd.args.slice(3, 9), ['unshare', '--mount', '--propagation', 'slave', 'sh', '-c']);
  const script = cmd.args[9] ?? '';
  t.notMatch(script, /wgx-a|weft-wg|tmp|reboot/, 'no value inside the script text');
  t.match(script, /mount --bind "\$1" \/run\/wireguard && exec "\$2" -f "\$3"/);
  t.same(cmd.args.slice(10), ['weft-wireguard-go', '/tmp/a b/$(reboot)', '/usr/bin/wireguard-go', 'weft-wg'], 'values as positional arguments');
  t.same(wireguardGoCommand({ device: 'wg0', netns: 'n1' }).args, ['netns', 'exec', 'n1', 'wireguard-go', '-f', 'wg0']);
});

t.test('detection: a loaded module, a probe that works, a probe that fails', async (t) => {
  const calls: string[][] = [];
  const runner = (exitCode: number, stderr: string): CommandRunner => async (file, args) => {
    calls.push([file, ...args]);
    return { stdout: '', stderr, exitCode };
  };
  const dir = t.testdir({ wireguard: {} });
  t.same(await detectWireguard(runner(1, ''), `${dir}/wireguard`), { kind: 'kernel' });
  t.same(calls, [], 'no probe when the module is loaded');
  t.same(await detectWireguard(runner(0, ''), `${dir}/nope`), { kind: 'kernel' });
  t.same(calls.at(-1), ['unshare', '--net', 'ip', 'link', 'add', 'weftwgprobe', 'type', 'wireguard'], 'in a throw-away netns');
  t.same(await detectWireguard(runner(2, 'Error: Unknown device type.\n'), `${dir}/nope`),
    { kind: 'userspace', reason: 'the kernel cannot create a wireguard link (Error: Unknown device type.)' });
});
