/**
 * The `wg`-CLI control and the kernel device provider against a recording
 * runner: what runs, with which argv, what the key files hold while `wg`
 * runs (mode 0600, in a 0700 directory), that they are gone after, and how
 * failures become errors that peer-sync can judge.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import t from 'tap';
import { SecretKey, type WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import type { Endpoint } from '../../../../src/core/wireguard/uapi-codec.js';
import { WireguardControlError } from '../../../../src/core/wireguard/errors.js';
import { WgCliControl, wgErrno } from '../../../../src/adapters/wireguard/wg-cli-control.js';
import { KernelWireguardDevice, readLinkKind } from '../../../../src/adapters/wireguard/kernel-device.js';
import { probeKernelWireguard, selectWireguardImplementation } from '../../../../src/adapters/wireguard/implementation-select.js';
import type { CommandResult, CommandRunner } from '../../../../src/adapters/iproute2/runner.js';
import { KEY_A, KEY_B, PSK } from '../../core/wireguard/vectors.js';

function secret(base64: string): SecretKey {
  const parsed = SecretKey.parseBase64(base64);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.key;
}

interface Call { readonly file: string; readonly args: readonly string[]; readonly seen: Record<string, { mode: number; dirMode: number; text: string }> }

/** Records each call and, for `wg set`, the key files its argv names as they are at that moment. */
function recorder(answer: (file: string, args: readonly string[]) => Partial<CommandResult>): { runner: CommandRunner; calls: Call[] } {
  const calls: Call[] = [];
  const runner: CommandRunner = async (file, args) => {
    const seen: Call['seen'] = {};
    for (const arg of args) {
      if (!arg.endsWith('.key')) continue;
      const info = await stat(arg);
      const dirInfo = await stat(arg.slice(0, arg.lastIndexOf('/')));
      seen[arg] = { mode: info.mode & 0o777, dirMode: dirInfo.mode & 0o777, text: await readFile(arg, 'utf8') };
    }
    calls.push({ file, args, seen });
    return { stdout: '', stderr: '', exitCode: 0, ...answer(file, args) };
  };
  return { runner, calls };
}

t.test('set: wg set with key files 0600 in a 0700 directory, removed after; no secret on the argv', async (t) => {
  const secretDir = t.testdir({});
  const { runner, calls } = recorder(() => ({}));
  const control = new WgCliControl({ device: 'weft-wg', runner, secretDir });
  await control.set({
    privateKey: secret(KEY_A.private), listenPort: 51820,
    peers: [{ kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, presharedKey: secret(PSK), endpoint: '192.0.2.2:51820' as Endpoint,
      replaceAllowedIps: true, allowedIps: ['10.5.2.0/24'] }],
  });
  t.equal(calls.length, 1);
  const call = calls[0];
  t.equal(call?.file, 'wg');
  t.same(call?.args.slice(0, 5), ['set', 'weft-wg', 'listen-port', '51820', 'private-key']);
  const files = Object.entries(call?.seen ?? {});
  t.equal(files.length, 2, 'two key files named on the argv');
  for (const [path, file] of files) {
    t.equal(file.mode, 0o600, `${path}: mode 0600`);
    t.equal(file.dirMode, 0o700, 'in a private directory');
  }
  t.same(files.map(([, f]) => f.text.trim()).sort(), [KEY_A.private, PSK].sort(), 'the files hold the keys in base64');
  const argv = call?.args.join(' ') ?? '';
  for (const key of [secret(KEY_A.private), secret(PSK)]) {
    t.notOk(argv.includes(key.base64()) || argv.includes(key.hex()), 'no key on the argv');
  }
  t.same(await readdir(secretDir), [], 'the key files and their directory are gone');
});

t.test('set failures: an errno for peer-sync to read back; the files are removed anyway', async (t) => {
  const secretDir = t.testdir({});
  const { runner } = recorder(() => ({ exitCode: 1, stderr: 'Unable to modify interface: Address already in use\n' }));
  const control = new WgCliControl({ device: 'weft-wg', runner, secretDir });
  const err = await control.set({ privateKey: secret(KEY_A.private), listenPort: 51820 }).catch((e: unknown) => e);
  t.ok(err instanceof WireguardControlError);
  t.match(err, { operation: 'set', errno: -98, message: /wg set weft-wg failed \(errno -98\): Unable to modify interface: Address already in use/ });
  t.notMatch((err as Error).message, KEY_A.private.slice(0, 10));
  t.same(await readdir(secretDir), []);
  t.equal(wgErrno('Unable to access interface: Protocol not supported'), -93);
  t.equal(wgErrno('Unable to modify interface: No such device'), -19);
  t.equal(wgErrno("Key is not the correct length or format: `x'"), -5, 'an unknown reason is EIO: still read back');
});

t.test('get: wg show <dev> dump parsed; failures name the device', async (t) => {
  const { runner, calls } = recorder(() => ({ stdout: `(none)\t${KEY_A.public}\t51820\toff\n${KEY_B.public}\t(none)\t192.0.2.2:51820\t10.5.2.0/24\t0\t0\t0\toff\n` }));
  const state = await new WgCliControl({ device: 'weft-wg', runner }).get();
  t.same(calls.map((c) => [c.file, ...c.args]), [['wg', 'show', 'weft-wg', 'dump']]);
  t.match(state, { publicKey: KEY_A.public, listenPort: 51820, peers: [{ publicKey: KEY_B.public, allowedIps: ['10.5.2.0/24'] }] });
  const missing = recorder(() => ({ exitCode: 1, stderr: 'Unable to access interface: No such device\n' }));
  await t.rejects(new WgCliControl({ device: 'weft-wg', runner: missing.runner }).get(),
    { name: 'WireguardControlError', operation: 'get', errno: -19, message: /wg show weft-wg dump failed: Unable to access interface: No such device/ });
  const garbled = recorder(() => ({ stdout: 'what\n' }));
  await t.rejects(new WgCliControl({ device: 'weft-wg', runner: garbled.runner }).get(), /unreadable dump: line 1 \(device\): 1 fields/);
});

/** A runner with a link table: `ip -d -j link show`, `ip link add … type wireguard`, `ip link del`. */
function links(initial: Record<string, string>, canCreate = true): { runner: CommandRunner; table: Map<string, string>; calls: string[][] } {
  const table = new Map(Object.entries(initial));
  const calls: string[][] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '', exitCode: 0 });
    if (file === 'ip' && args[0] === '-d') {
      const name = args.at(-1) ?? '';
      const kind = table.get(name);
      return kind === undefined ? { stdout: '', stderr: `Device "${name}" does not exist.\n`, exitCode: 1 }
        : ok(JSON.stringify([{ ifname: name, linkinfo: kind === '' ? undefined : { info_kind: kind } }]));
    }
    if (file === 'ip' && args[1] === 'add') {
      if (!canCreate) return { stdout: '', stderr: 'Error: Unknown device type.\n', exitCode: 2 };
      table.set(args[2] ?? '', 'wireguard');
      return ok();
    }
    if (file === 'ip' && args[1] === 'del') { table.delete(args.at(-1) ?? ''); return ok(); }
    return { stdout: '', stderr: 'unshare: unshare failed: Operation not permitted\n', exitCode: 1 };
  };
  return { runner, table, calls };
}

t.test('kernel device: created when missing, adopted as is, never re-created, a foreign link refused', async (t) => {
  const host = links({});
  const device = new KernelWireguardDevice({ device: 'weft-wg', runner: host.runner });
  t.equal(await device.ensure(), 'created the kernel wireguard device weft-wg');
  t.same(host.calls.filter((c) => c[2] === 'add'), [['ip', 'link', 'add', 'weft-wg', 'type', 'wireguard']]);
  t.equal(await device.ensure(), undefined, 'then nothing to say');
  const restarted = new KernelWireguardDevice({ device: 'weft-wg', runner: host.runner });
  t.equal(await restarted.ensure(), 'adopted the kernel wireguard device weft-wg');
  t.equal(host.calls.filter((c) => c[2] === 'add' || c[2] === 'del').length, 1, 'a restart neither deletes nor re-creates');
  host.table.set('weft-wg', 'tun');
  await t.rejects(restarted.ensure(), /weft-wg exists as a tun link, not a kernel wireguard device/);
  t.equal(await readLinkKind(host.runner, 'nope'), undefined);
  const noModule = links({}, false);
  await t.rejects(new KernelWireguardDevice({ device: 'weft-wg', runner: noModule.runner }).ensure(),
    /cannot create the kernel wireguard device weft-wg: Error: Unknown device type/);
});

t.test('selection: kinds decide, the probe only when needed, forced kinds replace the other device', async (t) => {
  const runDir = t.testdir({});
  let probes = 0;
  const probe = (kind: 'kernel' | 'userspace') => async () => {
    probes += 1;
    return kind === 'kernel' ? { kind } as const : { kind, reason: 'the kernel cannot create a wireguard link (Error: Unknown device type.)' } as const;
  };
  const adopt = links({ 'weft-wg': 'wireguard' });
  t.match(await selectWireguardImplementation({ flag: 'auto', device: 'weft-wg', runner: adopt.runner, runDir, probe: probe('userspace') }),
    { kind: 'kernel', existingKind: 'wireguard', replaceExisting: false });
  t.equal(probes, 0, 'an existing device decides without a probe');
  const fresh = links({});
  t.match(await selectWireguardImplementation({ flag: 'auto', device: 'weft-wg', runner: fresh.runner, runDir, probe: probe('userspace') }),
    { kind: 'userspace', reason: /Unknown device type.*using wireguard-go/ });
  t.equal(probes, 1);
  const toKernel = links({ 'weft-wg': 'tun' });
  t.match(await selectWireguardImplementation({ flag: 'kernel', device: 'weft-wg', runner: toKernel.runner, runDir, probe: probe('kernel') }),
    { kind: 'kernel', replaceExisting: true });
  t.equal(toKernel.table.has('weft-wg'), false, 'wireguard-go\'s device removed for the kernel one');
  const toUser = links({ 'weft-wg': 'wireguard' });
  t.match(await selectWireguardImplementation({ flag: 'userspace', device: 'weft-wg', runner: toUser.runner, runDir }), { kind: 'userspace', replaceExisting: true });
  t.equal(toUser.table.has('weft-wg'), false, 'the kernel device removed for wireguard-go');
  const keep = links({ 'weft-wg': 'tun' });
  await t.rejects(selectWireguardImplementation({ flag: 'kernel', device: 'weft-wg', runner: keep.runner, runDir, probe: probe('userspace') }),
    { name: 'UsageError', message: /--wireguard-implementation kernel: this kernel has no WireGuard/ });
  t.equal(keep.table.get('weft-wg'), 'tun', 'a refused kernel choice leaves the running device alone');
});

t.test('probe without CAP_SYS_ADMIN: a random probe link in our namespace, deleted at once', async (t) => {
  const host = links({});
  t.same(await probeKernelWireguard(host.runner, `${t.testdir({})}/nope`), { kind: 'kernel' });
  const added = host.calls.find((c) => c[2] === 'add');
  t.match(added, ['ip', 'link', 'add', /^weftwgp[0-9a-f]{6}$/, 'type', 'wireguard']);
  t.same(host.calls.at(-1), ['ip', 'link', 'del', 'dev', added?.[3]], 'deleted at once');
  t.same([...host.table.keys()], []);
  const noModule = links({}, false);
  t.match(await probeKernelWireguard(noModule.runner, `${t.testdir({})}/nope`), { kind: 'userspace', reason: /Unknown device type/ });
});
