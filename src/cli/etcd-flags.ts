/**
 * etcd connection flags shared by weftd and weftctl (flannel's names), and
 * building the registry from them. TLS material is read here, with errors
 * that name the flag and the file.
 */
import { readFile } from 'node:fs/promises';
import { Etcd3 } from 'etcd3';
import type { Argv } from 'yargs';
import { UsageError } from '../core/errors.js';
import { type EtcdConnection, EtcdRegistry, etcdClientOptions } from '../adapters/etcd-registry.js';
import { type FlagEntry, withFlags } from './flag-spec.js';

export const DEFAULT_PREFIX = '/weft/network';

/** The etcd flags as data (flag-spec.ts): weftd's start-up parser reads them without yargs. */
export const ETCD_FLAGS = [
  ['etcd-endpoints', { type: 'string', default: 'http://127.0.0.1:2379', describe: 'comma-separated etcd endpoints' }],
  ['etcd-prefix', { type: 'string', default: DEFAULT_PREFIX, describe: 'etcd prefix (use /coreos.com/network to join a flannel cluster)' }],
  ['etcd-cafile', { type: 'string', describe: 'CA certificate to verify etcd (TLS)' }],
  ['etcd-certfile', { type: 'string', describe: 'client certificate for etcd (TLS)' }],
  ['etcd-keyfile', { type: 'string', describe: 'client key for etcd (TLS)' }],
  ['etcd-username', { type: 'string', describe: 'etcd username (auth)' }],
  ['etcd-password', { type: 'string', describe: 'etcd password (auth)' }],
] as const satisfies readonly FlagEntry[];

export function withEtcdFlags<T>(y: Argv<T>): Argv<T & EtcdFlagValues> {
  return withFlags(y, ETCD_FLAGS) as Argv<T & EtcdFlagValues>;
}

export interface EtcdFlagValues {
  readonly 'etcd-endpoints': string;
  readonly 'etcd-prefix': string;
  readonly 'etcd-cafile'?: string | undefined;
  readonly 'etcd-certfile'?: string | undefined;
  readonly 'etcd-keyfile'?: string | undefined;
  readonly 'etcd-username'?: string | undefined;
  readonly 'etcd-password'?: string | undefined;
}

export function etcdConnection(argv: EtcdFlagValues): EtcdConnection {
  const endpoints = argv['etcd-endpoints'].split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw new UsageError('--etcd-endpoints is empty');
  for (const e of endpoints) {
    if (!/^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(e)) {
      throw new UsageError(`--etcd-endpoints: "${e}" is not an endpoint like http://127.0.0.1:2379`);
    }
  }
  if (Boolean(argv['etcd-certfile']) !== Boolean(argv['etcd-keyfile'])) {
    throw new UsageError('--etcd-certfile and --etcd-keyfile must be given together');
  }
  if (!argv['etcd-prefix'].startsWith('/')) throw new UsageError(`--etcd-prefix "${argv['etcd-prefix']}" must start with /`);
  return {
    endpoints,
    prefix: argv['etcd-prefix'],
    caFile: argv['etcd-cafile'] || undefined,
    certFile: argv['etcd-certfile'] || undefined,
    keyFile: argv['etcd-keyfile'] || undefined,
    username: argv['etcd-username'] || undefined,
    password: argv['etcd-password'] || undefined,
  };
}

async function readFlagFile(flag: string, path: string | undefined): Promise<Buffer | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`--${flag} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function openRegistry(conn: EtcdConnection): Promise<EtcdRegistry> {
  const tls = {
    ca: await readFlagFile('etcd-cafile', conn.caFile),
    cert: await readFlagFile('etcd-certfile', conn.certFile),
    key: await readFlagFile('etcd-keyfile', conn.keyFile),
  };
  return new EtcdRegistry(new Etcd3(etcdClientOptions(conn, tls)), conn.prefix,
    { endpoints: conn.endpoints, prefix: conn.prefix, username: conn.username, clientCert: conn.certFile !== undefined });
}

export function configKey(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/config`;
}
