/** UapiClient against a scripted UNIX socket server (the real wireguard-go is in test/integration/wireguard-building-blocks). */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UapiClient } from '../../../../src/adapters/wireguard/uapi-client.js';
import { WireguardControlError } from '../../../../src/core/wireguard/errors.js';
import { SecretKey } from '../../../../src/core/wireguard/keys.js';
import { KEY_A, KEY_B } from '../../core/wireguard/vectors.js';

/** A short directory: a UNIX socket path has at most 107 bytes (tap's fixture paths are longer). */
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-uapi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(dir: string, answer: (request: string, socket: Socket) => void): Promise<{ server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((socket) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.endsWith('\n\n')) {
        requests.push(text);
        answer(text, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'wg0.sock'), resolve));
  return { server, requests };
}

t.test('get and set: the request on the wire, the reply parsed', async (t) => {
  const dir = shortDir(t);
  const { server, requests } = await serve(dir, (request, socket) => {
    if (request.startsWith('get=1')) socket.end(`private_key=${KEY_A.privateHex}\nlisten_port=51820\npublic_key=${KEY_B.publicHex}\nallowed_ip=10.5.2.0/24\nerrno=0\n\n`);
    else socket.write('errno=0\n\n'); // wireguard-go keeps the connection open after a set
  });
  t.teardown(() => server.close());
  const client = new UapiClient({ device: 'wg0', socketDir: dir });
  const state = await client.get();
  t.match(state, { publicKey: KEY_A.public, listenPort: 51820, peers: [{ publicKey: KEY_B.public, allowedIps: ['10.5.2.0/24'] }] });
  const key = SecretKey.parseBase64(KEY_A.private);
  if (!key.ok) throw new Error('key');
  await client.set({ privateKey: key.key, listenPort: 1 });
  t.same(requests, ['get=1\n\n', `set=1\nprivate_key=${KEY_A.privateHex}\nlisten_port=1\n\n`]);
  t.equal(await client.isLive(), true);
});

t.test('a refused line: typed error with errno and context, no request text', async (t) => {
  const dir = shortDir(t);
  const { server } = await serve(dir, (_request, socket) => socket.end('errno=-22\n\n'));
  t.teardown(() => server.close());
  const client = new UapiClient({ device: 'wg0', socketDir: dir });
  const key = SecretKey.parseBase64(KEY_A.private);
  if (!key.ok) throw new Error('key');
  const err = await client.set({ privateKey: key.key }).catch((e: unknown) => e);
  t.ok(err instanceof WireguardControlError);
  t.match(err, { errno: -22, operation: 'set', device: 'wg0', socketPath: join(dir, 'wg0.sock'), message: /errno=-22 \(EINVAL\); earlier lines may be applied/ });
  t.notMatch(String((err as Error).message), KEY_A.privateHex.slice(0, 16));
  await t.rejects(client.get(), { message: /unreadable reply: the device answered errno=-22/ });
});

t.test('no socket, a silent device, a truncated reply', async (t) => {
  const dir = shortDir(t);
  const missing = new UapiClient({ device: 'nope', socketDir: dir });
  await t.rejects(missing.get(), { message: /cannot use .*nope.sock: no such socket \(is the device running\?\)/, operation: 'get' });
  t.equal(await missing.isLive(), false);
  const { server } = await serve(dir, (request, socket) => {
    if (request.startsWith('set=1\nlisten_port=2')) socket.end('listen_po');
    // otherwise: never answer
  });
  t.teardown(() => server.close());
  const slow = new UapiClient({ device: 'wg0', socketDir: dir, timeoutMs: 200 });
  await t.rejects(slow.get(), { message: /get on wg0 timed out after 200 ms/ });
  await t.rejects(slow.set({ listenPort: 2 }), { message: /got no errno in its reply/ });
});

t.test('a socket path longer than a UNIX socket allows is refused by name, not truncated', async (t) => {
  const client = new UapiClient({ device: 'weft-wg', socketDir: `/tmp/${'x'.repeat(120)}` });
  await t.rejects(client.get(), { message: /socket path .* is 138 bytes; a UNIX socket path has at most 107/ });
});
