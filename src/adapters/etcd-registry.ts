/**
 * SubnetRegistry on etcd v3 (the `etcd3` client), in flannel's layout:
 * `<prefix>/config` and `<prefix>/subnets/A.B.C.D-LEN`, plus weft's node
 * presence keys `<prefix>/weft-nodes/<name>` (outside flannel's view).
 * The lease listing is read in pages at one revision: a single range reply
 * bigger than gRPC's 4 MiB receive limit would fail.
 */
import { Etcd3, type IKeyValue, type IOptions, type Watcher } from 'etcd3';
import type { Cidr } from '../core/cidr.js';
import { RegistryError, errorMessage } from '../core/errors.js';
import { type EtcdContext, explainEtcdFailure } from '../core/etcd-failure.js';
import { type LeaseSubnets, encodeSubnetKey } from '../core/lease.js';
import type { PresenceEntry } from '../core/node-presence.js';
import type {
  ClaimResult, LeaseListing, RegistryEntry, RegistryEvent, RestoreResult, SubnetRegistry, WatchHandlers,
} from './registry.js';

/**
 * Paging of the lease listing: the first page has FIRST_PAGE_KEYS keys; later
 * pages are sized from the bytes per key seen so far to about PAGE_BYTES
 * (at most MAX_PAGE_KEYS keys), far below gRPC's 4 MiB receive limit. A page
 * still over the limit is re-read with half the keys.
 */
export const FIRST_PAGE_KEYS = 16;
export const PAGE_BYTES = 1024 * 1024;
export const MAX_PAGE_KEYS = 2000;

export interface EtcdConnection {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Deadline for each unary call, so an unreachable etcd fails fast instead of hanging. */
  readonly callTimeoutMs?: number;
}

export interface EtcdTlsMaterial {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

/** Builds etcd3 client options (TLS material is read by the caller). */
export function etcdClientOptions(conn: EtcdConnection, tls: EtcdTlsMaterial): IOptions {
  const timeout = conn.callTimeoutMs ?? 5000;
  const options: IOptions = {
    hosts: [...conn.endpoints],
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  };
  if (tls.ca || tls.cert) {
    options.credentials = {
      rootCertificate: tls.ca ?? Buffer.alloc(0),
      ...(tls.key ? { privateKey: tls.key } : {}),
      ...(tls.cert ? { certChain: tls.cert } : {}),
    };
  }
  if (conn.username) options.auth = { username: conn.username, password: conn.password ?? '' };
  return options;
}

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

/** gRPC's RESOURCE_EXHAUSTED (code 8): the reply was bigger than the receive limit. */
function isTooLarge(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 8 || /larger than max|RESOURCE_EXHAUSTED/i.test(errorMessage(err));
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

export class EtcdRegistry implements SubnetRegistry {
  readonly #client: Etcd3;
  readonly #configKey: string;
  readonly #subnetsPrefix: string;
  readonly #context: EtcdContext;
  readonly #nodesPrefix: string;
  readonly #firstPage: number;

  /** `context` names the endpoints (and user) in errors; default: the prefix only. */
  constructor(client: Etcd3, prefix: string, context?: EtcdContext, options: { firstPageKeys?: number } = {}) {
    this.#client = client;
    this.#context = context ?? { endpoints: ['(unnamed)'], prefix };
    const p = normalizePrefix(prefix);
    this.#configKey = `${p}/config`;
    this.#subnetsPrefix = `${p}/subnets/`;
    this.#nodesPrefix = `${p}/weft-nodes/`;
    this.#firstPage = options.firstPageKeys ?? FIRST_PAGE_KEYS;
  }

  #key(subnet: LeaseSubnets): string {
    return this.#subnetsPrefix + encodeSubnetKey(subnet);
  }

  #entry(kv: IKeyValue): RegistryEntry {
    const leaseId = String(kv.lease);
    return {
      key: kv.key.toString().slice(this.#subnetsPrefix.length),
      value: kv.value.toString(),
      reservation: leaseId === '0',
      createRevision: String(kv.create_revision),
      leaseId,
      modRevision: String(kv.mod_revision),
    };
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new RegistryError(explainEtcdFailure(`etcd ${what} failed`, errorMessage(err), this.#context).message, { cause: err });
    }
  }

  async getConfig(): Promise<string | undefined> {
    const value = await this.#call('get config', () => this.#client.get(this.#configKey).string());
    return value ?? undefined;
  }

  async putConfig(text: string): Promise<void> {
    await this.#call('put config', () => this.#client.put(this.#configKey).value(text).exec());
  }

  /**
   * Pages, each starting after the last key of the one before, all at the
   * first page's revision (a consistent snapshot). A page over the client's
   * message limit (RESOURCE_EXHAUSTED) is re-read with half the keys; one key
   * is at most etcd's 1.5 MiB request limit, so it always fits.
   */
  async listLeases(): Promise<LeaseListing> {
    const end = prefixEnd(this.#subnetsPrefix);
    const entries: RegistryEntry[] = [];
    let start = Buffer.from(this.#subnetsPrefix);
    let revision: string | undefined;
    let limit = this.#firstPage;
    let bytes = 0;
    for (;;) {
      let page;
      try {
        page = await this.#client.kv.range({ key: start, range_end: end, limit, ...(revision ? { revision } : {}) });
      } catch (err) {
        if (limit > 1 && isTooLarge(err)) { limit = Math.max(1, Math.floor(limit / 2)); continue; }
        throw new RegistryError(explainEtcdFailure('etcd list leases failed', errorMessage(err), this.#context).message, { cause: err });
      }
      revision ??= String(page.header.revision);
      for (const kv of page.kvs) {
        entries.push(this.#entry(kv));
        bytes += kv.key.length + kv.value.length;
      }
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || !last) break;
      start = Buffer.concat([last.key, Buffer.from([0])]);
      limit = Math.max(1, Math.min(MAX_PAGE_KEYS, Math.floor(PAGE_BYTES / Math.max(1, bytes / entries.length))));
    }
    return { entries, revision: revision ?? '0' };
  }

  async getLease(subnet: LeaseSubnets): Promise<RegistryEntry | undefined> {
    const res = await this.#call('get lease', () => this.#client.get(this.#key(subnet)).exec());
    const kv = res.kvs[0];
    return kv ? this.#entry(kv) : undefined;
  }

  async #grant(ttlSeconds: number): Promise<string> {
    const res = await this.#call('lease grant', () => this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    return String(res.ID);
  }

  async #createIfAbsent(key: string, value: string, ttlSeconds: number): Promise<ClaimResult> {
    const leaseId = ttlSeconds > 0 ? await this.#grant(ttlSeconds) : '0';
    const put = this.#client.put(key).value(value);
    if (leaseId !== '0') put.lease(leaseId);
    const res = await this.#call('claim', () => this.#client.if(key, 'Create', '==', 0).then(put).commit());
    if (!res.succeeded) {
      if (leaseId !== '0') await this.revoke(leaseId).catch(() => undefined);
      return { ok: false };
    }
    return { ok: true, leaseId, modRevision: String(res.header.revision) };
  }

  async #replaceIfUnchanged(key: string, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult> {
    const leaseId = ttlSeconds > 0 ? await this.#grant(ttlSeconds) : '0';
    const put = this.#client.put(key).value(value);
    if (leaseId !== '0') put.lease(leaseId);
    const res = await this.#call('replace', () => this.#client.if(key, 'Mod', '==', modRevision).then(put).commit());
    if (!res.succeeded) {
      if (leaseId !== '0') await this.revoke(leaseId).catch(() => undefined);
      return { ok: false };
    }
    return { ok: true, leaseId, modRevision: String(res.header.revision) };
  }

  claim(subnet: LeaseSubnets, value: string, ttlSeconds: number): Promise<ClaimResult> {
    return this.#createIfAbsent(this.#key(subnet), value, ttlSeconds);
  }

  replace(subnet: LeaseSubnets, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult> {
    return this.#replaceIfUnchanged(this.#key(subnet), value, modRevision, ttlSeconds);
  }

  async restore(subnet: LeaseSubnets, value: string, modRevision: string, leaseId: string): Promise<RestoreResult> {
    const key = this.#key(subnet);
    const put = this.#client.put(key).value(value);
    if (leaseId !== '0') put.lease(leaseId);
    try {
      const res = await this.#client.if(key, 'Mod', '==', modRevision).then(put).commit();
      return res.succeeded ? { ok: true, modRevision: String(res.header.revision) } : { ok: false, reason: 'changed' };
    } catch (err) {
      if (/lease not found/i.test(errorMessage(err))) return { ok: false, reason: 'lease-gone' };
      throw new RegistryError(explainEtcdFailure('etcd restore lease value failed', errorMessage(err), this.#context).message, { cause: err });
    }
  }

  async getPresence(nodeName: string): Promise<PresenceEntry | undefined> {
    const res = await this.#call('get node presence', () => this.#client.get(this.#nodesPrefix + nodeName).exec());
    const kv = res.kvs[0];
    return kv ? { value: kv.value.toString(), leaseId: String(kv.lease), modRevision: String(kv.mod_revision) } : undefined;
  }

  claimPresence(nodeName: string, value: string, ttlSeconds: number): Promise<ClaimResult> {
    return this.#createIfAbsent(this.#nodesPrefix + nodeName, value, ttlSeconds);
  }

  replacePresence(nodeName: string, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult> {
    return this.#replaceIfUnchanged(this.#nodesPrefix + nodeName, value, modRevision, ttlSeconds);
  }

  async remove(subnet: LeaseSubnets, modRevision?: string): Promise<boolean> {
    const key = this.#key(subnet);
    if (modRevision === undefined) {
      const res = await this.#call('delete', () => this.#client.delete().key(key).exec());
      return Number(res.deleted) > 0;
    }
    const res = await this.#call('delete', () =>
      this.#client.if(key, 'Mod', '==', modRevision).then(this.#client.delete().key(key)).commit());
    return res.succeeded;
  }

  async keepAlive(leaseId: string): Promise<number> {
    return this.#call('lease keepalive', async () => {
      const stream = await this.#client.leaseClient.leaseKeepAlive();
      try {
        const res = await new Promise<{ TTL: string }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('keepalive timed out')), 5000);
          stream.on('data', (r: { TTL: string }) => { clearTimeout(timer); resolve(r); });
          stream.on('error', (e: Error) => { clearTimeout(timer); reject(e); });
          stream.write({ ID: leaseId });
        });
        return Number(res.TTL);
      } finally {
        stream.end();
      }
    });
  }

  async timeToLive(leaseId: string): Promise<number> {
    if (leaseId === '0') return -1;
    const res = await this.#call('lease ttl', () => this.#client.leaseClient.leaseTimeToLive({ ID: leaseId }));
    return Number(res.TTL);
  }

  async revoke(leaseId: string): Promise<void> {
    if (leaseId === '0') return;
    await this.#call('lease revoke', () => this.#client.leaseClient.leaseRevoke({ ID: leaseId }));
  }

  watch(fromRevision: string, handlers: WatchHandlers): () => void {
    let stopped = false;
    let watcher: Watcher | undefined;
    const fail = (err: Error): void => {
      if (stopped) return;
      stopped = true;
      if (watcher) void watcher.cancel().catch(() => undefined);
      // The operator's words (a compaction keeps its text: the watcher counts those).
      handlers.onError(new RegistryError(explainEtcdFailure('etcd watch failed', errorMessage(err), this.#context).message, { cause: err }));
    };
    this.#client.watch().prefix(this.#subnetsPrefix).startRevision(fromRevision).create()
      .then((w) => {
        watcher = w;
        if (stopped) { void w.cancel().catch(() => undefined); return; }
        w.on('data', (res) => {
          if (stopped) return;
          const events: RegistryEvent[] = [];
          for (const ev of res.events) {
            if (ev.type === 'Put') events.push({ type: 'put', entry: this.#entry(ev.kv) });
            else events.push({ type: 'delete', key: ev.kv.key.toString().slice(this.#subnetsPrefix.length) });
          }
          if (events.length > 0) handlers.onEvents(events, String(res.header.revision));
        });
        w.on('error', (err: Error) => fail(err));
        w.on('disconnected', (err: Error) => fail(err));
      })
      .catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))));
    return () => {
      stopped = true;
      if (watcher) void watcher.cancel().catch(() => undefined);
    };
  }

  close(): void {
    this.#client.close();
  }
}
