// Bundled in place of @grpc/proto-loader for etcd3 (scripts/bundle.mjs): the
// gRPC package definition etcd3's client needs, built from etcd's .proto
// files parsed once at build time (a protobufjs JSON root) instead of at every
// start. proto-loader's loadSync parses rpc.proto and then describes every
// message for gRPC reflection (descriptor protos, encoded file descriptors),
// which a client never reads; here each method gets only what grpc-js's
// makeClientConstructor uses (path, streaming flags, serializers,
// originalName), and its message types are resolved on its first call.
// The (de)serializers are proto-loader's own: fromObject + encode,
// decode + toObject with the caller's options.
'use strict';

/**
 * @param {typeof import('protobufjs')} Protobuf
 * @param {(name: string) => string} camelCase lodash.camelcase, as proto-loader names methods
 * @param {object} json the protobufjs JSON root (parsed with keepCase: true)
 * @param {{keepCase?: boolean}} options etcd3's loadSync options
 */
function etcdPackageDefinition(Protobuf, camelCase, json, options) {
  if (options.keepCase !== true) throw new Error('etcd-grpc-definitions: the .proto files were parsed with keepCase: true at build time');
  const root = Protobuf.Root.fromJSON(json);
  fastKeyValueToObject(root.lookupType('mvccpb.KeyValue'), options);
  const definition = {};
  for (const [name, service] of servicesIn(Protobuf, root, '')) {
    const methods = {};
    for (const method of service.methodsArray) methods[method.name] = methodDefinition(name, method, camelCase, options);
    definition[name] = methods;
  }
  return definition;
}

function servicesIn(Protobuf, namespace, prefix) {
  const found = [];
  for (const child of namespace.nestedArray) {
    const name = prefix === '' ? child.name : `${prefix}.${child.name}`;
    if (child instanceof Protobuf.Service) found.push([name, child]);
    else if (child instanceof Protobuf.Namespace && !(child instanceof Protobuf.Type)) found.push(...servicesIn(Protobuf, child, name));
  }
  return found;
}

function methodDefinition(serviceName, method, camelCase, options) {
  const types = () => {
    if (!method.resolvedRequestType) method.resolve();
    return { request: method.resolvedRequestType, response: method.resolvedResponseType };
  };
  return {
    path: `/${serviceName}/${method.name}`,
    requestStream: !!method.requestStream,
    responseStream: !!method.responseStream,
    requestSerialize: (value) => serialize(types().request, value),
    requestDeserialize: (buffer) => deserialize(types().request, buffer, options),
    responseSerialize: (value) => serialize(types().response, value),
    responseDeserialize: (buffer) => deserialize(types().response, buffer, options),
    originalName: camelCase(method.name),
  };
}

function serialize(type, value) {
  if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
  return type.encode(type.fromObject(value)).finish();
}

function deserialize(type, buffer, options) {
  return type.toObject(type.decode(buffer), options);
}

/**
 * A listing of 5000 leases is 5000 KeyValues, and protobufjs' generated
 * toObject turned each of their four int64 fields into a string through
 * Long.prototype.toString (a loop of Long divisions: most of a listing's
 * decoding time and garbage). For etcd3's options (longs as strings, bytes as
 * Buffers, defaults), this one writes the same object, with a value below
 * 2^53 (every revision, version and most lease ids) turned into its string
 * directly; anything else takes the generated code.
 */
function fastKeyValueToObject(type, etcdOptions) {
  if (etcdOptions.longs !== String || etcdOptions.defaults !== true || etcdOptions.bytes !== undefined) return;
  type.setup(); // generates encode/decode/toObject now, so the one below is not overwritten later
  const generated = type.toObject;
  const longString = (value) => {
    if (typeof value === 'number') return String(value);
    const { low, high } = value;
    return high >= 0 && high < 0x200000 ? String(high * 4294967296 + (low >>> 0)) : value.toString();
  };
  const own = (m, field) => m[field] != null && Object.prototype.hasOwnProperty.call(m, field);
  const empty = Buffer.alloc(0);
  type.toObject = function toObject(m, options) {
    if (options !== etcdOptions) return generated.call(this, m, options);
    return {
      key: own(m, 'key') ? m.key : Buffer.from(empty),
      create_revision: own(m, 'create_revision') ? longString(m.create_revision) : '0',
      mod_revision: own(m, 'mod_revision') ? longString(m.mod_revision) : '0',
      version: own(m, 'version') ? longString(m.version) : '0',
      value: own(m, 'value') ? m.value : Buffer.from(empty),
      lease: own(m, 'lease') ? longString(m.lease) : '0',
    };
  };
}

module.exports = { etcdPackageDefinition };
