/**
 * weftd's yargs parser, built from the flag table (daemon-flags.ts). Loaded
 * only when start-up's own parser leaves the decision to it: --help, errors,
 * unusual spellings.
 */
import yargs from 'yargs';
import { daemonFlagTable } from './daemon-flags.js';
import { withFlags } from './flag-spec.js';
import { ENV_PREFIX } from './host-config.js';

export function daemonParser(fileSettings: Record<string, string> = {}) {
  return withFlags(yargs(), daemonFlagTable())
    .scriptName('weftd')
    .usage('$0 [flags]\n\nLeases a subnet from etcd and keeps this host\'s VXLAN overlay in sync with its peers.')
    .env(ENV_PREFIX)
    .config(fileSettings)
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .strict()
    .help()
    .version(false)
    .wrap(100);
}
