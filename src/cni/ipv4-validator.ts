/**
 * Stand-in for the one ip-num function weft's CIDR helpers use
 * (`Validator.isValidIPv4String`), swapped in by scripts/bundle.mjs for the
 * CNI bundle only: loading all of ip-num costs ~20 ms per plugin call, more
 * than the plugin's whole budget. test/unit/cni/ipv4-validator.test.ts checks
 * that it agrees with ip-num. Not imported by any source file.
 */

/** Four decimal octets 0-255 without leading zeros, as ip-num accepts them. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export const Validator = {
  isValidIPv4String(text: string): [boolean, string[]] {
    const ok = IPV4.test(text);
    return [ok, ok ? [] : ['not a dotted-quad IPv4 address']];
  },
};
