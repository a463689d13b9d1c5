import t from 'tap';
import { UsageError } from '../../../../src/core/errors.js';
import { chooseImplementation, implementationOfKind, implementationWord } from '../../../../src/core/wireguard/implementation.js';

const KERNEL = { kind: 'kernel' } as const;
const NO_KERNEL = { kind: 'userspace', reason: 'the kernel cannot create a wireguard link (Error: Unknown device type.)' } as const;

t.test('auto: an existing device decides by its kind, without a probe', async (t) => {
  t.match(chooseImplementation('auto', 'weft-wg', 'wireguard', undefined), { kind: 'kernel', replaceExisting: false, reason: /kernel wireguard device: adopted/ });
  t.match(chooseImplementation('auto', 'weft-wg', 'tun', undefined), { kind: 'userspace', replaceExisting: false, reason: /wireguard-go's tun device: adopted/ });
  t.match(chooseImplementation('auto', 'weft-wg', 'tun', KERNEL), { kind: 'userspace', replaceExisting: false },
    'a running wireguard-go is kept even where the kernel could take over: its tunnels survive the restart');
});

t.test('auto: no device (or a foreign kind): the probe decides', async (t) => {
  t.equal(chooseImplementation('auto', 'weft-wg', undefined, undefined), 'probe');
  t.equal(chooseImplementation('auto', 'weft-wg', 'veth', undefined), 'probe');
  t.match(chooseImplementation('auto', 'weft-wg', undefined, KERNEL), { kind: 'kernel', reason: 'the kernel has WireGuard', replaceExisting: false });
  t.match(chooseImplementation('auto', 'weft-wg', undefined, NO_KERNEL), { kind: 'userspace', reason: /Unknown device type.*using wireguard-go/, replaceExisting: false });
});

t.test('kernel forced: adopts, replaces a wireguard-go device, or fails clearly', async (t) => {
  t.match(chooseImplementation('kernel', 'weft-wg', 'wireguard', undefined), { kind: 'kernel', replaceExisting: false });
  t.equal(chooseImplementation('kernel', 'weft-wg', 'tun', undefined), 'probe', 'never replaces wireguard-go before knowing the kernel can');
  t.match(chooseImplementation('kernel', 'weft-wg', 'tun', KERNEL), { kind: 'kernel', replaceExisting: true, reason: /replacing wireguard-go's weft-wg/ });
  t.match(chooseImplementation('kernel', 'weft-wg', undefined, KERNEL), { kind: 'kernel', replaceExisting: false, reason: '--wireguard-implementation kernel' });
  for (const existing of [undefined, 'tun']) {
    t.throws(() => chooseImplementation('kernel', 'weft-wg', existing, NO_KERNEL), UsageError);
    t.throws(() => chooseImplementation('kernel', 'weft-wg', existing, NO_KERNEL),
      /--wireguard-implementation kernel: this kernel has no WireGuard \(.*Unknown device type.*\); load the wireguard module, or use --wireguard-implementation auto or userspace/);
  }
});

t.test('userspace forced: never probes; replaces a kernel device', async (t) => {
  t.match(chooseImplementation('userspace', 'weft-wg', undefined, undefined), { kind: 'userspace', replaceExisting: false });
  t.match(chooseImplementation('userspace', 'weft-wg', 'tun', undefined), { kind: 'userspace', replaceExisting: false });
  t.match(chooseImplementation('userspace', 'weft-wg', 'wireguard', undefined), { kind: 'userspace', replaceExisting: true, reason: /replacing the kernel device weft-wg/ });
});

t.test('kinds and words', async (t) => {
  t.equal(implementationOfKind('wireguard'), 'kernel');
  t.equal(implementationOfKind('tun'), 'userspace');
  t.equal(implementationOfKind('vxlan'), undefined);
  t.equal(implementationOfKind(undefined), undefined);
  t.equal(implementationWord('kernel'), 'kernel');
  t.equal(implementationWord('userspace'), 'wireguard-go');
});
