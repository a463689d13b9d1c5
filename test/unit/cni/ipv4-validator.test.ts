import t from 'tap';
import { Validator as IpNum } from 'ip-num';
import { Validator as Lite } from '../../../src/cni/ipv4-validator.js';

// The CNI bundle swaps ip-num for this validator (scripts/bundle.mjs): both must agree.
t.test('agrees with ip-num on valid and invalid dotted quads', async (t) => {
  const inputs = [
    '0.0.0.0', '10.5.34.1', '255.255.255.255', '192.0.2.2', '1.2.3.4', '99.199.249.250',
    '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1..3.4', '', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-1',
    'a.b.c.d', '1.2.3.4/24', '1e2.1.1.1', '0x1.1.1.1', '１.2.3.4', '1.2.3.4\n', '300.300.300.300', '249.250.251.256',
  ];
  for (const text of inputs) t.equal(Lite.isValidIPv4String(text)[0], IpNum.isValidIPv4String(text)[0], JSON.stringify(text));
});

t.test('agrees on every octet value', async (t) => {
  let disagreements = 0;
  for (let i = 0; i < 1000; i++) {
    const text = `${i}.1.${i % 300}.4`;
    if (Lite.isValidIPv4String(text)[0] !== IpNum.isValidIPv4String(text)[0]) disagreements += 1;
  }
  t.equal(disagreements, 0);
});
