import t from 'tap';
import { checkChecksumOffload, parseChecksumOffload, wantedTxChecksum } from '../../../src/core/checksum-offload.js';
import { underlayMtuProblem } from '../../../src/core/underlay-mtu.js';
import { parseTxChecksum } from '../../../src/adapters/ethtool.js';

t.test('parseChecksumOffload and what each value asks of the device', async (t) => {
  const errors: string[] = [];
  t.equal(parseChecksumOffload(undefined, errors), 'off');
  t.equal(parseChecksumOffload('OFF', errors), 'off');
  t.equal(parseChecksumOffload('on', errors), 'on');
  t.equal(parseChecksumOffload('auto', errors), 'auto');
  t.same(errors, []);
  parseChecksumOffload(false, errors);
  t.match(errors, [/must be "auto", "on" or "off", got false/]);
  t.equal(wantedTxChecksum('on'), true);
  t.equal(wantedTxChecksum('off'), false);
  t.equal(wantedTxChecksum('auto'), undefined);
});

t.test('doctor check: the device flag against the config', async (t) => {
  t.match(checkChecksumOffload('weft.1', 'off', { ok: true, on: false }), { verdict: 'ok', detail: 'weft.1 tx-checksum-ip-generic off, as Backend.ChecksumOffload off asks' });
  t.match(checkChecksumOffload('weft.1', 'off', { ok: true, on: true }), { verdict: 'FAIL', detail: /on, but Backend\.ChecksumOffload is off/, fix: /ethtool -K weft\.1 tx-checksum-ip-generic off/ });
  t.match(checkChecksumOffload('weft.1', 'on', { ok: true, on: false }), { verdict: 'FAIL' });
  t.match(checkChecksumOffload('weft.1', 'auto', { ok: true, on: true }), { verdict: 'ok', detail: /auto: weft leaves the kernel's setting/ });
  t.match(checkChecksumOffload('weft.1', undefined, { ok: true, on: true }), { verdict: 'warn', detail: /not compared/ });
  t.match(checkChecksumOffload('weft.1', 'off', { ok: false, error: 'spawn ethtool ENOENT' }), { verdict: 'warn', detail: /ENOENT/, fix: /install ethtool/ });
  t.match(checkChecksumOffload(undefined, 'off', undefined), { verdict: 'warn', detail: /no device/ });
});

t.test('parseTxChecksum reads ethtool -k output', async (t) => {
  const out = 'Features for weft.1:\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\n\ttx-checksum-ip-generic: on\n';
  t.equal(parseTxChecksum(out), true);
  t.equal(parseTxChecksum(out.replace('generic: on', 'generic: off [requested on]')), false);
  t.equal(parseTxChecksum('Features for lo:\n'), undefined);
});

t.test('underlayMtuProblem: Backend.MTU may not exceed the interface', async (t) => {
  t.equal(underlayMtuProblem(undefined, { name: 'eth0', mtu: 1500 }), undefined, 'not set: the interface MTU is used');
  t.equal(underlayMtuProblem(1500, { name: 'eth0', mtu: 1500 }), undefined);
  t.equal(underlayMtuProblem(1400, { name: 'eth0', mtu: 1500 }), undefined);
  t.match(underlayMtuProblem(9000, { name: 'bond0', mtu: 1500 }), {
    detail: /^Backend\.MTU 9000 is larger than the MTU 1500 of the external interface bond0 \(.*device would get 8950/,
    fix: /at most 1500/,
  });
});
