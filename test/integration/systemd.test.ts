/**
 * The systemd side: the installed unit passes `systemd-analyze verify` with
 * no warning at all, and weftd sends READY=1 over $NOTIFY_SOCKET (a path and
 * an abstract socket) only after its kernel entries and subnet.env exist.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';
import { REPO_ROOT, msgIs, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

/**
 * A NOTIFY_SOCKET listener (Node has no AF_UNIX datagram sockets): on the
 * first READY=1 it records, at that instant, the routes on the device and
 * whether subnet.env exists, then prints one JSON line and exits.
 */
const LISTENER = `
import json, os, socket, subprocess, sys
addr, device, subnet_file = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print('listening', flush=True)
s.settimeout(60)
messages = []
while True:
    data = s.recv(65536).decode()
    messages.append(data)
    if 'READY=1' in data.split('\\n'):
        routes = json.loads(subprocess.run(['ip', '-j', 'route', 'show', 'dev', device], capture_output=True, text=True).stdout or '[]')
        print(json.dumps({'messages': messages, 'routes': [r['dst'] for r in routes], 'subnetFile': os.path.exists(subnet_file)}), flush=True)
        break
`;

if (requirePrerequisites(t, ['systemd-analyze', 'systemd-notify', 'python3', 'ip', 'etcd'], true)) {
  t.test('the installed unit verifies with no warnings', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-unit-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    // Exactly what `make install` does to the template.
    const unit = (await readFile(join(REPO_ROOT, 'systemd/weftd.service'), 'utf8')).replaceAll('@LIBDIR@', REPO_ROOT.replace(/\/$/, ''));
    await writeFile(join(dir, 'weftd.service'), unit);
    const r = await execa('systemd-analyze', ['verify', '--man=no', join(dir, 'weftd.service')], { reject: false });
    t.equal(r.exitCode, 0, 'systemd-analyze verify exits 0');
    t.equal(`${r.stdout}${r.stderr}`.trim(), '', 'and prints nothing (an unknown key would only warn)');
    t.match(unit, /^Type=notify$/m);
    t.match(unit, /^RuntimeDirectoryPreserve=yes$/m);
    const broken = unit.replace('Restart=on-failure', 'Restartt=on-failure');
    await writeFile(join(dir, 'broken.service'), broken);
    const b = await execa('systemd-analyze', ['verify', '--man=no', join(dir, 'broken.service')], { reject: false });
    t.match(b.stderr, /Unknown key/, 'the check would catch a typo');
  });

  t.test('READY=1 only after the first full pass and subnet.env', async (t) => {
    const rig = await Rig.up({ hosts: 2 });
    t.teardown(() => rig.down());
    await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', '/weft/network/config', '{"Network":"10.90.0.0/16"}']);
    const flags = (i: number) => ['--etcd-endpoints', ETCD_ENDPOINT, '--node-name', `host${i}`, '--iface', 'eth0',
      '--subnet-file', join(rig.stateDir, `h${i}.env`)];
    const peer = startWeftd(flags(2), { netns: rig.host(2).netns });
    t.teardown(() => peer.stop('SIGKILL'));
    const peerLease = await peer.waitForLog(msgIs('acquired subnet lease'));

    for (const [label, address] of [['path', join(rig.stateDir, 'notify.sock')], ['abstract', `@weft-notify-${process.pid}`]] as const) {
      await rm(join(rig.stateDir, 'h1.env'), { force: true });
      const listener = spawn('ip', ['netns', 'exec', rig.host(1).netns, 'python3', '-c', LISTENER, address, 'weft.1', join(rig.stateDir, 'h1.env')],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      listener.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      const done = new Promise<void>((resolve) => listener.on('exit', () => resolve()));
      t.teardown(() => { listener.kill(); });
      for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
      t.ok(out.includes('listening'), `${label}: listener ready`);
      const d = startWeftd(flags(1), { netns: rig.host(1).netns, env: { NOTIFY_SOCKET: address } });
      await d.waitForLog(msgIs('first reconcile pass done; ready'), 30_000);
      await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
      const report = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { messages?: string[]; routes?: string[]; subnetFile?: boolean };
      t.ok(report.messages?.some((m) => m.includes('READY=1')), `${label}: READY=1 received`);
      t.ok(report.messages?.[0]?.includes(`MAINPID=${d.child.pid}`), `${label}: on behalf of weftd's own PID`);
      t.match(report.messages?.[0], /STATUS=ready: subnet 10\.90\.\d+\.0\/24, 1 peers/, `${label}: with a status line`);
      t.ok(report.routes?.includes(String(peerLease.subnet)), `${label}: the peer's route existed when READY arrived`);
      t.equal(report.subnetFile, true, `${label}: subnet.env existed when READY arrived`);
      t.equal(await d.stop(), 0);
    }
    t.equal(await peer.stop(), 0);
  });
}
