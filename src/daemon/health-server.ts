/**
 * /healthz: 200 while the process works, the last reconcile pass is recent
 * and succeeding, etcd answers (or has not been gone for long) and the lease
 * is held; 503 with the reason otherwise. /readyz: the first full pass is done
 * and subnet.env written. /status: the daemon's state as JSON (status-json.ts:
 * lease, last pass, peers, and a wireguard host's tunnels; never a secret).
 * /metrics: Prometheus text format. prom-client is
 * loaded at the first /metrics request, not at start (it is computed from
 * DaemonStatus at scrape time, so a registry made late reports the same).
 */
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DaemonStatus } from './status.js';
import { statusJson } from './status-json.js';

export interface HealthServerInput {
  readonly ip: string;
  readonly port: number;
  readonly status: DaemonStatus;
  readonly log: Logger;
  /** A pass older than this makes /healthz fail. */
  readonly staleAfterMs?: number;
  /** etcd unreachable for longer than this makes /healthz fail. */
  readonly etcdGraceMs?: number;
}

export function healthProblem(status: DaemonStatus, now: number, staleAfterMs: number, etcdGraceMs = 120_000): string | undefined {
  if (status.leaseLost) return `lease lost: ${status.leaseLost}`;
  if (status.identityConflict) return `node name conflict: ${status.identityConflict}`;
  if (status.etcdDownSince !== undefined && now - status.etcdDownSince > etcdGraceMs) {
    return `etcd unreachable for ${Math.round((now - status.etcdDownSince) / 1000)}s: ${status.etcdError ?? 'unknown error'}`;
  }
  if (!status.lease) return undefined; // still starting: alive, not ready
  if (status.lastPassAt !== undefined && now - status.lastPassAt > staleAfterMs) {
    return `last reconcile pass was ${Math.round((now - status.lastPassAt) / 1000)}s ago`;
  }
  // Waiting for the underlay interface is a state weftd is meant to be in (restarting would not help), not a failure.
  if (status.lastPassAt !== undefined && !status.lastPassOk && status.passFailures >= 3 && status.underlay?.waiting === undefined) {
    return `reconcile failing: ${status.lastPassError ?? 'unknown error'}`;
  }
  return undefined;
}

export async function startHealthServer(input: HealthServerInput): Promise<{ readonly port: number; close(): Promise<void> }> {
  let metrics: Promise<Registry> | undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics ??= import('./metrics.js').then(({ createMetrics }) => createMetrics(input.status));
      metrics.then(async (registry) => {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      }).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics failed: ${String(err)}\n`);
      });
    } else if (path === '/healthz') {
      const problem = healthProblem(input.status, Date.now(), input.staleAfterMs ?? 120_000, input.etcdGraceMs);
      res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(problem ? `unhealthy: ${problem}\n` : 'ok\n');
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(statusJson(input.status, Date.now()), null, 2)}\n`);
    } else if (path === '/readyz') {
      res.writeHead(input.status.ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(input.status.ready ? 'ready\n' : 'not ready: first reconcile pass not done\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(input.port, input.ip, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : input.port;
  input.log.info({ ip: input.ip, port }, 'health endpoint listening');
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
