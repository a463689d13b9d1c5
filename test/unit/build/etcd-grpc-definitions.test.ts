/**
 * The bundles give etcd3 scripts/etcd-grpc-definitions.cjs (fed with the
 * .proto files parsed at build time) instead of @grpc/proto-loader's
 * loadSync. A client must not be able to tell: every service and method is
 * there with the same path, streaming flags and name, and every message
 * encodes to the same bytes and decodes to the same object (64-bit ids as
 * strings, enums as names, defaults, oneofs) as proto-loader's.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { REPO_ROOT } from '../../helpers/weftd-process.js';

interface MethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly originalName?: string;
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(buffer: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(buffer: Buffer): unknown;
}
type Definition = Record<string, Record<string, MethodDefinition> | { format: string }>;

const requireHere = createRequire(`${REPO_ROOT}package.json`);
const fromLoader = createRequire(requireHere.resolve('@grpc/proto-loader/package.json'));
const protoLoader = requireHere('@grpc/proto-loader') as { loadSync(file: string, options: object): Definition };
const Protobuf = fromLoader('protobufjs') as { Root: new () => { loadSync(file: string, options: object): { toJSON(): object } } };
const camelCase = fromLoader('lodash.camelcase') as (name: string) => string;
const { etcdPackageDefinition } = requireHere(`${REPO_ROOT}scripts/etcd-grpc-definitions.cjs`) as {
  etcdPackageDefinition(protobuf: unknown, camel: (name: string) => string, json: object, options: object): Definition;
};

const rpcProto = requireHere.resolve('etcd3/proto/rpc.proto');
const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }; // etcd3's, connection-pool.js
const theirs = protoLoader.loadSync(rpcProto, options);
const ours = etcdPackageDefinition(Protobuf, camelCase, new Protobuf.Root().loadSync(rpcProto, { keepCase: true }).toJSON(), options);

function services(def: Definition): [string, Record<string, MethodDefinition>][] {
  return Object.entries(def).filter((e): e is [string, Record<string, MethodDefinition>] => !('format' in e[1]));
}

t.test('the same services and methods, paths, streaming flags and names', async (t) => {
  const expected = services(theirs);
  t.ok(expected.length >= 6, 'etcd has KV, Watch, Lease, Cluster, Maintenance, Auth');
  t.same(services(ours).map(([name]) => name).sort(), expected.map(([name]) => name).sort());
  for (const [name, methods] of expected) {
    const mine = ours[name] as Record<string, MethodDefinition>;
    t.same(Object.keys(mine).sort(), Object.keys(methods).sort(), `${name}: methods`);
    for (const [method, def] of Object.entries(methods)) {
      const m = mine[method];
      t.same(m && { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, originalName: m.originalName },
        { path: def.path, requestStream: def.requestStream, responseStream: def.responseStream, originalName: def.originalName }, `${name}.${method}`);
    }
  }
});

const BIG = '7587889012345678901'; // an etcd lease id above 2^53: must survive as a string
const samples: [string, string, 'request' | 'response', unknown][] = [
  ['etcdserverpb.KV', 'Range', 'request', { key: Buffer.from('/weft/network/subnets/'), range_end: Buffer.from('/weft/network/subnets0'), limit: 16, revision: '12' }],
  ['etcdserverpb.KV', 'Range', 'response', {
    header: { cluster_id: BIG, member_id: '1', revision: '99', raft_term: '3' }, more: true, count: '5000',
    kvs: [{ key: Buffer.from('/weft/network/subnets/10.5.1.0-24'), value: Buffer.from('{"PublicIP":"192.0.2.11"}'), create_revision: '5', mod_revision: '7', version: '2', lease: BIG }],
  }],
  ['etcdserverpb.KV', 'Range', 'response', {
    header: { revision: '1' }, count: '4',
    kvs: [
      { key: Buffer.from('k1'), value: Buffer.from('v'), create_revision: '9007199254740991', mod_revision: '9007199254740992', version: '4294967296', lease: '-5' },
      { key: Buffer.from('k2') }, { lease: BIG }, {},
      { key: Buffer.from(''), value: Buffer.from(''), create_revision: '0', mod_revision: '4294967295', version: '1', lease: '9223372036854775807' },
    ],
  }],
  ['etcdserverpb.KV', 'Txn', 'request', {
    compare: [{ result: 'EQUAL', target: 'CREATE', key: Buffer.from('k'), create_revision: '0' }],
    success: [{ request_put: { key: Buffer.from('k'), value: Buffer.from('v'), lease: BIG } }], failure: [],
  }],
  ['etcdserverpb.KV', 'Txn', 'response', { header: { revision: '100' }, succeeded: true, responses: [{ response_put: { header: { revision: '100' } } }] }],
  ['etcdserverpb.Watch', 'Watch', 'request', { create_request: { key: Buffer.from('/p/'), range_end: Buffer.from('/p0'), start_revision: '101', progress_notify: true } }],
  ['etcdserverpb.Watch', 'Watch', 'response', {
    header: { revision: '102' }, watch_id: '1', created: false, compact_revision: '0',
    events: [{ type: 'PUT', kv: { key: Buffer.from('a'), value: Buffer.from('b'), mod_revision: '102', lease: BIG } }, { type: 'DELETE', kv: { key: Buffer.from('c') } }],
  }],
  ['etcdserverpb.Lease', 'LeaseGrant', 'request', { TTL: '86400', ID: '0' }],
  ['etcdserverpb.Lease', 'LeaseGrant', 'response', { header: { revision: '5' }, ID: BIG, TTL: '86400', error: '' }],
  ['etcdserverpb.Lease', 'LeaseKeepAlive', 'response', { ID: BIG, TTL: '30' }],
  ['etcdserverpb.Auth', 'Authenticate', 'request', { name: 'weft', password: 'secret' }],
  ['etcdserverpb.Maintenance', 'Status', 'response', { header: { revision: '1' }, version: '3.4.23', dbSize: '20480', leader: BIG }],
];

t.test('every sample encodes to the same bytes and decodes to the same object', async (t) => {
  for (const [service, method, side, value] of samples) {
    const mine = (ours[service] as Record<string, MethodDefinition>)[method];
    const def = (theirs[service] as Record<string, MethodDefinition>)[method];
    if (!mine || !def) { t.fail(`${service}.${method} missing`); continue; }
    const [serialize, deserialize, reference, referenceDeserialize] = side === 'request'
      ? [mine.requestSerialize, mine.requestDeserialize, def.requestSerialize, def.requestDeserialize]
      : [mine.responseSerialize, mine.responseDeserialize, def.responseSerialize, def.responseDeserialize];
    const bytes = reference(value);
    t.ok(bytes.length > 0, `${service}.${method} ${side}: the sample is not empty`);
    t.same(serialize(value), bytes, `${service}.${method} ${side}: same bytes`);
    t.same(deserialize(bytes), referenceDeserialize(bytes), `${service}.${method} ${side}: same object`);
  }
  const grant = (ours['etcdserverpb.Lease'] as Record<string, MethodDefinition>)['LeaseGrant'];
  const decoded = grant?.responseDeserialize(grant.responseSerialize({ ID: BIG, TTL: '5' })) as { ID?: unknown } | undefined;
  t.equal(decoded?.ID, BIG, 'a 64-bit lease id comes back exactly, as a string');
  t.throws(() => grant?.requestSerialize([]), /expected object/, 'an array is refused as proto-loader refuses it');
});

t.test('the definitions were parsed with etcd3\'s keepCase', async (t) => {
  t.throws(() => etcdPackageDefinition(Protobuf, camelCase, {}, { ...options, keepCase: false }), /keepCase/);
});
