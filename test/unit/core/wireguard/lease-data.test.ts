import t from 'tap';
import {
  decodeWireguardData, decodeWireguardLease, encodeWireguardData, peerPort,
} from '../../../../src/core/wireguard/lease-data.js';
import type { WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import { KEY_A, KEY_B } from './vectors.js';

/** As flanneld ≥ v0.26.6 writes it (next-anchors §1.2: Go struct without tags, json.Marshal). */
const FLANNELD_DUAL = `{"PublicIP":"192.168.1.10","PublicIPv6":"fd00::10","BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_A.public}","Port":51820},"BackendV6Data":{"PublicKey":"${KEY_A.public}","Port":51821}}`;
/** flanneld before v0.26.6: no Port. */
const FLANNELD_OLD = `{"PublicIP":"192.168.1.11","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}"}}`;

t.test('flanneld-written values decode', async (t) => {
  t.same(decodeWireguardLease(JSON.parse(FLANNELD_DUAL)), {
    ok: true, data: { v4: { publicKey: KEY_A.public, port: 51820 }, v6: { publicKey: KEY_A.public, port: 51821 } },
  });
  const old = decodeWireguardLease(JSON.parse(FLANNELD_OLD));
  t.same(old, { ok: true, data: { v4: { publicKey: KEY_B.public, port: undefined }, v6: undefined } });
  if (old.ok && old.data.v4) {
    t.equal(peerPort(old.data.v4, 51820), 51820, 'no Port: our own port (flannel’s fallback)');
    t.equal(peerPort(old.data.v4, 4000), 4000);
  }
  t.equal(peerPort({ publicKey: KEY_A.public as WgPublicKey, port: 5000 }, 51820), 5000);
});

t.test('encode writes exactly what flanneld writes', async (t) => {
  const data = encodeWireguardData({ publicKey: KEY_A.public as WgPublicKey, port: 51820 });
  t.equal(JSON.stringify(data), `{"PublicKey":"${KEY_A.public}","Port":51820}`);
  t.ok(FLANNELD_DUAL.includes(`"BackendData":${JSON.stringify(data)}`));
  t.same(decodeWireguardData(data, 'BackendData'), { ok: true, data: { publicKey: KEY_A.public, port: 51820 } }, 'round trip');
});

t.test("Go's decoder: field names in any case, unknown fields ignored, Port 0 = none", async (t) => {
  t.same(decodeWireguardData({ publickey: KEY_A.public, PORT: 7, Extra: 1 }, 'BackendData'), { ok: true, data: { publicKey: KEY_A.public, port: 7 } });
  t.same(decodeWireguardData({ PublicKey: KEY_A.public, Port: 0 }, 'BackendData'), { ok: true, data: { publicKey: KEY_A.public, port: undefined } });
});

t.test('clear reasons', async (t) => {
  const table: [unknown, RegExp][] = [
    [null, /BackendData is not a JSON object/],
    [{ Port: 1 }, /BackendData.PublicKey is missing or not a string/],
    [{ PublicKey: 'abc' }, /BackendData.PublicKey "abc" is 3 characters long/],
    [{ PublicKey: KEY_A.public, Port: 65536 }, /BackendData.Port 65536 is not a port number/],
    [{ PublicKey: KEY_A.public, Port: '51820' }, /BackendData.Port "51820" is not a port number/],
  ];
  for (const [raw, reason] of table) t.match(decodeWireguardData(raw, 'BackendData'), { ok: false, reason }, JSON.stringify(raw));
  t.match(decodeWireguardLease({ PublicIP: '10.0.0.1', BackendType: 'vxlan', BackendData: { VNI: 1 } }),
    { ok: false, reason: /BackendType is "vxlan", not "wireguard"/ });
  t.match(decodeWireguardLease({ PublicIP: '10.0.0.1', BackendType: 'wireguard' }), { ok: false, reason: /neither BackendData nor BackendV6Data/ });
  t.match(decodeWireguardLease({ BackendType: 'wireguard', BackendData: {}, BackendV6Data: { PublicKey: KEY_A.public } }),
    { ok: false, reason: /^BackendData.PublicKey/ });
});
