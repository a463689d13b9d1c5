/**
 * weftd's choice of WireGuard implementation on this machine (a kernel
 * without WireGuard), with the real weftd, etcd and wireguard-go on one rig
 * host: auto says why it runs wireguard-go, `weftctl status` shows it on the
 * device line, `--wireguard-implementation kernel` stops weftd with a clear
 * error and leaves the running tunnel device alone, and the next weftd adopts
 * the existing device by its kind. (The kernel device itself cannot be made
 * here: test/integration/wireguard-wg-cli.test.ts proves its control path.)
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { missingPrerequisites } from '../helpers/require.js';
import { PREFIX, type WeftCluster, startWeftCluster, wireguardArgs, wireguardDirs } from '../helpers/weft-cluster.js';
import { msgIs, startWeftd } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT } from '../rig/rig.js';

const DEV = 'weft-wg';
const config = { Network: '10.43.0.0/16', Backend: { Type: 'wireguard', ListenPort: 51820 } };
const missing = missingPrerequisites(['ip', 'wireguard-go', 'wg', 'unshare', 'etcd', 'etcdctl'], true);
if (missing.length > 0) {
  t.fail(`missing prerequisites: ${missing.join(', ')} (integration tests do not skip)`);
} else {
  const c: WeftCluster = await startWeftCluster({
    hosts: 1, config, weftdArgs: ['--resync-interval', '1s'],
    hostArgs: wireguardArgs,
  });
  t.teardown(() => c.stop());
  const d = wireguardDirs(c.rig.stateDir, 1);
  const ifindex = async () => Number((await c.sh(1, 'cat', [`/sys/class/net/${DEV}/ifindex`])).trim());
  const pid = () => Number(readFileSync(join(d.run, `${DEV}.pid`), 'utf8').trim());

  t.test('auto: wireguard-go, with the reason in the log and the word in weftctl status', async (t) => {
    const line = await c.daemons.get(1)?.waitForLog(msgIs('wireguard implementation: wireguard-go'), 5000, 'the implementation log line');
    t.match(line, { implementation: 'userspace', device: DEV, reason: /the kernel cannot create a wireguard link \(.*\): using wireguard-go/ });
    const status = await c.weftctl(1, 'status', ['--wireguard-socket-dir', d.sockets]);
    t.match(status.stdout, /^device {6}weft-wg up \(wireguard-go\), listen port 51820, /m);
  });

  t.test('--wireguard-implementation kernel: weftd exits 1 with a clear error; the running device is left alone', async (t) => {
    const before = { ifindex: await ifindex(), pid: pid() };
    await c.daemons.get(1)?.stop('SIGTERM');
    const forced = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', c.subnetFile(1), '--node-name', 'host1',
      '--iface', 'eth0', '--wireguard-key-file', d.key, '--wireguard-socket-dir', d.sockets, '--wireguard-run-dir', d.run,
      '--wireguard-implementation', 'kernel'], { netns: c.rig.host(1).netns });
    t.equal(await forced.exited, 1, 'exit 1');
    t.match(forced.stderr(), /^weftd: --wireguard-implementation kernel: this kernel has no WireGuard \(the kernel cannot create a wireguard link \(.+\)\); load the wireguard module, or use --wireguard-implementation auto or userspace/m);
    t.same({ ifindex: await ifindex(), pid: pid() }, before, 'same weft-wg, same wireguard-go');
    t.match((await c.sh(1, 'ip', ['-d', 'link', 'show', DEV])), /\btun\b/);
  });

  t.test('the next weftd (auto) adopts the tun device by its kind', async (t) => {
    const before = { ifindex: await ifindex(), pid: pid() };
    const again = c.restart(1);
    const line = await again.waitForLog(msgIs('wireguard implementation: wireguard-go'), 20_000, 'the implementation log line');
    t.match(line, { reason: /weft-wg exists as wireguard-go's tun device: adopted/, existingKind: 'tun' });
    await again.waitForLog(msgIs('first reconcile pass done; ready'), 20_000, 'the first pass');
    t.same({ ifindex: await ifindex(), pid: pid() }, before, 'nothing re-created');
  });
}
