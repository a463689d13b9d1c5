import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDelegateConf, renderCanonicalJson } from '../../../src/cni/delegate.js';
import { parseNetConf } from '../../../src/cni/netconf.js';
import { parseSubnetEnv } from '../../../src/core/subnet-env.js';
import { repoRoot } from '../../helpers/fixtures.js';

t.test('examples/10-weft.conflist (also in docs/cni.md) gives the documented delegate config', async (t) => {
  const list = JSON.parse(readFileSync(join(repoRoot(), 'examples', '10-weft.conflist'), 'utf8')) as
    { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
  t.same(list.plugins.map((p) => p['type']), ['weft', 'portmap']);
  // libcni hands each plugin its entry plus the list's name and cniVersion.
  const netconf = parseNetConf(JSON.stringify({ ...list.plugins[0], name: list.name, cniVersion: list.cniVersion }));
  const env = parseSubnetEnv('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  if (!env.ok) throw new Error('sample subnet.env');
  t.equal(renderCanonicalJson(buildDelegateConf(netconf, env.env)),
    '{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.5.34.0/24"}]],'
    + '"routes":[{"dst":"10.5.0.0/16","gw":"10.5.34.1"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,'
    + '"mtu":1450,"name":"weft","type":"bridge"}');
  const docs = readFileSync(join(repoRoot(), 'docs', 'cni.md'), 'utf8');
  t.ok(docs.includes(readFileSync(join(repoRoot(), 'examples', '10-weft.conflist'), 'utf8').trim()), 'docs/cni.md shows the same file');
});
