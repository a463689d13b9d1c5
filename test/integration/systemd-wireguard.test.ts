/**
 * The shipped unit runs the wireguard backend under a real systemd (a
 * systemd-nspawn container, test/helpers/nspawn.ts): what `make install`
 * installs (unit, programs, env file) with the host's Node, etcd as a transient
 * unit inside, an underlay veth inside. Proves that the unit's sandbox
 * (ProtectSystem=strict, CapabilityBoundingSet, NoNewPrivileges,
 * RestrictAddressFamilies, RestrictNamespaces, PrivateTmp …) lets wireguard-go
 * open /dev/net/tun and its UAPI socket in /run/wireguard; that the key is
 * created 0600 in the state directory and kept; that `systemctl restart`
 * keeps the same wireguard-go and device (KillMode=process); that
 * `systemctl stop` leaves the tunnel up and `weftctl cleanup` removes it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { execa } from 'execa';
import { NspawnContainer, nspawnRootfs } from '../helpers/nspawn.js';
import { REPO_ROOT, childEnv } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

const NETWORK = '10.42.0.0/16';
const ETCD = 'http://127.0.0.1:2379';
const KEY_FILE = '/var/lib/weft/wireguard/private.key';
const CAP_NET_ADMIN_AND_RAW = (1n << 12n) | (1n << 13n);

if (requirePrerequisites(t, ['systemd-nspawn', 'debootstrap', 'nsenter', 'make', 'etcd', 'etcdctl', 'node'], true)) {
  const stage = mkdtempSync(join(tmpdir(), 'weft-nspawn-stage-'));
  let container: NspawnContainer | undefined;
  const cleanup = (): void => {
    container?.killSync();
    rmSync(stage, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  t.teardown(async () => {
    await container?.stop();
    cleanup();
  });

  const installed = await execa('make', ['-C', REPO_ROOT, 'install', `DESTDIR=${stage}`], { reject: false, env: childEnv() });
  if (installed.exitCode !== 0) throw new Error(`make install failed: ${installed.stderr}`);
  mkdirSync(join(stage, 'etc/weft'), { recursive: true });
  writeFileSync(join(stage, 'etc/weft/weftd.env'), `WEFTD_ETCD_ENDPOINTS=${ETCD}\nWEFTD_IFACE=eth0\nWEFTD_NODE_NAME=host1\n`);
  const rootfs = await nspawnRootfs();
  const booted = await NspawnContainer.boot(rootfs, [
    { host: join(stage, 'usr/local'), container: '/usr/local' },
    { host: join(stage, 'etc/systemd/system/weftd.service'), container: '/etc/systemd/system/weftd.service' },
    { host: join(stage, 'etc/weft'), container: '/etc/weft' },
    { host: process.execPath, container: '/usr/bin/node' },
    { host: (await execa('sh', ['-c', 'command -v etcd'])).stdout.trim(), container: '/usr/bin/etcd' },
    { host: (await execa('sh', ['-c', 'command -v etcdctl'])).stdout.trim(), container: '/usr/bin/etcdctl' },
  ]);
  container = booted.container;
  const c = container;
  t.comment(`container systemd: ${booted.state}`);

  const sh = (script: string): Promise<string> => c.run('sh', ['-c', script]);
  const etcdctl = (...args: string[]): Promise<string> => c.run('etcdctl', ['--endpoints', ETCD, ...args]);
  const wgPid = async (): Promise<number> => Number((await c.run('cat', ['/run/weft/weft-wg.pid'])).trim());
  const ifindex = async (): Promise<number> => Number((await c.run('cat', ['/sys/class/net/weft-wg/ifindex'])).trim());
  const mainPid = async (): Promise<number> => Number((await c.run('systemctl', ['show', 'weftd', '-p', 'MainPID', '--value'])).trim());
  const commOf = async (pid: number): Promise<string> => (await c.exec('cat', [`/proc/${pid}/comm`])).stdout.trim();
  const publicKey = async (): Promise<string> => (await c.run('wg', ['show', 'weft-wg', 'public-key'])).trim();
  const waitFor = async (what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  // The underlay (inside the container's own network namespace), etcd as a transient unit, the network config.
  await sh('ip link add eth0 type veth peer name eth1 && ip addr add 192.0.2.11/24 dev eth0 && ip link set eth0 up && ip link set eth1 up');
  await c.run('systemd-run', ['--unit', 'etcd', '--property=Type=exec', '/usr/bin/etcd', '--data-dir', '/var/lib/etcd-test',
    '--listen-client-urls', ETCD, '--advertise-client-urls', ETCD, '--listen-peer-urls', 'http://127.0.0.1:2380']);
  await waitFor('etcd inside', async () => (await c.exec('etcdctl', ['--endpoints', ETCD, 'endpoint', 'health'])).code === 0);
  // SubnetMin: weftd's own lease never lands on 10.42.9.0/24, the peer a subtest writes.
  await etcdctl('put', '/weft/network/config', JSON.stringify({ Network: NETWORK, SubnetMin: '10.42.10.0', Backend: { Type: 'wireguard', ListenPort: 51820 } }));

  t.test('systemctl start: weftd and its wireguard-go run under the unit\'s sandbox', async (t) => {
    const start = await c.exec('systemctl', ['start', 'weftd']);
    t.equal(start.code, 0, `systemctl start weftd (Type=notify: returns after READY=1): ${start.stderr}`);
    t.equal((await c.exec('systemctl', ['is-active', 'weftd'])).stdout.trim(), 'active');
    const pid = await wgPid();
    t.equal(await commOf(pid), 'wireguard-go', `the PID file names a running wireguard-go (${pid})`);
    t.match(await c.run('cat', [`/proc/${pid}/cgroup`]), /weftd\.service/, 'in the unit\'s cgroup');
    const status = await c.run('cat', [`/proc/${pid}/status`]);
    t.equal(BigInt(`0x${/CapEff:\s+(\w+)/.exec(status)?.[1] ?? '0'}`), CAP_NET_ADMIN_AND_RAW, 'with only CAP_NET_ADMIN and CAP_NET_RAW (CapabilityBoundingSet)');
    t.match(status, /NoNewPrivs:\s+1/, 'NoNewPrivileges applies to it');
    t.match(await c.run('findmnt', ['-N', String(pid), '-no', 'OPTIONS', '/']), /^ro,/, 'it sees / read-only (ProtectSystem=strict)');
    t.match(await c.run('findmnt', ['-N', String(pid), '-no', 'OPTIONS', '/run/wireguard']), /^rw,/, 'and /run/wireguard writable (RuntimeDirectory)');
    t.match(await c.run('stat', ['-c', '%F %a', '/run/wireguard/weft-wg.sock']), /^socket 700/, 'its UAPI socket');
    t.match(await c.run('ip', ['-d', 'link', 'show', 'weft-wg']), /tun type tun/, 'weft-wg is its TUN device (/dev/net/tun opened)');
    t.equal((await c.run('wg', ['show', 'weft-wg', 'listen-port'])).trim(), '51820', '`wg` configures it over the socket');
    t.match(await c.run('ip', ['-N', 'route', 'show', 'dev', 'weft-wg']), /10\.42\.0\.0\/16 proto 87/, 'the network route, proto weft');
    t.match(await c.run('cat', ['/run/weft/subnet.env']), /FLANNEL_MTU=1420/);
  });

  t.test('the key: created 0600 in the state directory, advertised, never logged', async (t) => {
    t.equal((await c.run('stat', ['-c', '%a %U', '/var/lib/weft', '/var/lib/weft/wireguard', KEY_FILE])).trim(), '700 root\n700 root\n600 root');
    const lease = JSON.parse((await etcdctl('get', '--prefix', '/weft/network/subnets/', '--print-value-only')).trim()) as { BackendData?: { PublicKey?: string } };
    t.equal(lease.BackendData?.PublicKey, await publicKey(), 'the lease carries the device\'s public key');
    const secret = (await c.run('cat', [KEY_FILE])).trim();
    t.notOk((await c.run('journalctl', ['-u', 'weftd', '--no-pager', '-o', 'cat'])).includes(secret), 'the private key is not in the journal');
  });

  t.test('a peer\'s lease becomes a WireGuard peer through the UAPI socket', async (t) => {
    const peerKey = (await sh('wg genkey | wg pubkey')).trim();
    await etcdctl('put', '/weft/network/subnets/10.42.9.0-24', JSON.stringify({ PublicIP: '192.0.2.12', BackendType: 'wireguard', BackendData: { PublicKey: peerKey, Port: 51820 } }));
    await waitFor('the peer on weft-wg', async () => (await c.run('wg', ['show', 'weft-wg', 'allowed-ips'])).includes(`${peerKey}\t10.42.9.0/24`));
    t.equal((await c.run('wg', ['show', 'weft-wg', 'endpoints'])).trim(), `${peerKey}\t192.0.2.12:51820`);
  });

  t.test('systemctl restart: a new weftd adopts the same wireguard-go, device and key', async (t) => {
    const before = { main: await mainPid(), wg: await wgPid(), ifindex: await ifindex(), key: await publicKey(),
      file: createHash('sha256').update(await c.run('cat', [KEY_FILE])).digest('hex') };
    t.equal((await c.exec('systemctl', ['restart', 'weftd'])).code, 0);
    t.not(await mainPid(), before.main, 'weftd itself was restarted');
    t.equal(await wgPid(), before.wg, 'the same wireguard-go (KillMode=process)');
    t.equal(await commOf(before.wg), 'wireguard-go');
    t.equal(await ifindex(), before.ifindex, 'the same weft-wg (not re-created)');
    t.equal(await publicKey(), before.key, 'the same key');
    t.equal(createHash('sha256').update(await c.run('cat', [KEY_FILE])).digest('hex'), before.file, 'the key file unchanged');
    t.match(await c.run('journalctl', ['-u', 'weftd', '--no-pager', '-o', 'cat']), `"changes":["adopted wireguard-go (PID ${before.wg})"]`);
  });

  t.test('systemctl stop leaves the tunnel up; weftctl cleanup removes it; start brings it back with the same key', async (t) => {
    const before = { wg: await wgPid(), key: await publicKey() };
    t.equal((await c.exec('systemctl', ['stop', 'weftd'])).code, 0);
    t.equal((await c.exec('systemctl', ['is-active', 'weftd'])).stdout.trim(), 'inactive');
    t.equal(await commOf(before.wg), 'wireguard-go', 'wireguard-go keeps running after stop (KillMode=process)');
    t.match(await c.run('wg', ['show', 'weft-wg', 'peers']), /\S/, 'with its peers: the tunnels keep working while weftd is stopped');
    t.match(await c.run('journalctl', ['-u', 'weftd', '--no-pager', '-o', 'cat']), `Unit process ${before.wg} (wireguard-go) remains running after unit stopped`);
    const cleaned = await c.exec('weftctl', ['cleanup']);
    t.equal(cleaned.code, 0, cleaned.stderr);
    t.match(cleaned.stdout, `stopped wireguard-go (PID ${before.wg}); weft-wg, its address and route went with it`);
    t.equal(await commOf(before.wg), '', 'wireguard-go is gone');
    t.notOk((await c.run('ls', ['/sys/class/net'])).split('\n').includes('weft-wg'), 'weft-wg is gone');
    t.equal((await c.exec('test', ['-e', '/run/wireguard/weft-wg.sock'])).code, 1, 'its socket is gone');
    t.equal((await c.exec('systemctl', ['start', 'weftd'])).code, 0);
    const after = await wgPid();
    t.not(after, before.wg, 'a new wireguard-go');
    t.equal(await publicKey(), before.key, 'with the same key (from the state directory)');
    await waitFor('the peer back', async () => (await c.run('wg', ['show', 'weft-wg', 'peers'])).trim() !== '');
  });
}
