import t from 'tap';
import { explainEtcdFailure } from '../../../src/core/etcd-failure.js';

const ctx = { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/weft/network', username: 'weft' };
const tls = { ...ctx, endpoints: ['https://10.0.0.1:2379'], clientCert: true };

t.test('the client library\'s texts become the operator\'s words, naming the endpoints and the fix', async (t) => {
  // Texts as etcd3 1.1.2 / grpc-js report them against etcd 3.4 (measured).
  const cases: [string, typeof ctx, string, RegExp][] = [
    ['14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ', ctx, 'unreachable', /etcd at http:\/\/10\.0\.0\.1:2379, http:\/\/10\.0\.0\.2:2379 is unreachable: check that etcd runs there and that --etcd-endpoints/],
    ['Execution prevented because the circuit breaker is open', ctx, 'unreachable', /is unreachable.*use https:\/\/ endpoints/],
    ['4 DEADLINE_EXCEEDED: Deadline exceeded', ctx, 'unreachable', /is unreachable/],
    ['14 UNAVAILABLE: No connection established. Last error: 80:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate', tls, 'tls', /TLS refused by etcd at https:\/\/10\.0\.0\.1:2379: etcd rejected this client certificate: give --etcd-certfile and --etcd-keyfile/],
    ['14 UNAVAILABLE: No connection established. Last error: 80:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate', { ...tls, clientCert: false }, 'tls', /etcd wants a client certificate/],
    ['14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ', tls, 'tls', /server certificate is not trusted: give --etcd-cafile/],
    ['3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password', ctx, 'auth', /refused the credentials of user "weft": check --etcd-username and --etcd-password/],
    ['3 INVALID_ARGUMENT: etcdserver: user name is empty', ctx, 'auth', /requires authentication: set --etcd-username and --etcd-password/],
    ['7 PERMISSION_DENIED: etcdserver: permission denied', ctx, 'permission', /denied user "weft" access to \/weft\/network: grant it a role with readwrite/],
    ['9 FAILED_PRECONDITION: something new', ctx, 'other', /answered with an error: 9 FAILED_PRECONDITION: something new/],
  ];
  for (const [detail, c, kind, re] of cases) {
    const f = explainEtcdFailure('list leases', detail, c);
    t.equal(f.kind, kind, detail);
    t.match(f.message, re);
    t.match(f.message, /^list leases: /);
    if (kind !== 'other') t.notMatch(f.message, /UNAVAILABLE|circuit breaker|SSL routines|INVALID_ARGUMENT/, 'no library text');
  }
});
