/**
 * What an operator reads when etcd fails: the endpoints, what went wrong in
 * their words, and the fix, instead of the client library's text ("14
 * UNAVAILABLE: No connection established…", "Execution prevented because the
 * circuit breaker is open"). The library's text stays in the error's cause
 * (and in debug logs). Pure: classifies a message.
 */
export type EtcdFailureKind = 'unreachable' | 'tls' | 'auth' | 'permission' | 'other';

export interface EtcdContext {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly username?: string | undefined;
  /** A client certificate was given. */
  readonly clientCert?: boolean;
}

export interface EtcdFailure {
  readonly kind: EtcdFailureKind;
  /** One sentence for the operator: what failed at which endpoints, and the fix. */
  readonly message: string;
}

const TLS = /SSL routines|alert bad certificate|certificate required|unable to verify|self[- ]signed certificate|certificate has expired|wrong version number|Hostname\/IP does not match|ERR_TLS|ERR_SSL|handshake/i;
const UNREACHABLE = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNRESET|No connection established|Failed to connect|circuit breaker is open|DEADLINE_EXCEEDED|Deadline exceeded|deadline|UNAVAILABLE|keepalive timed out|connection closed/i;

export function explainEtcdFailure(what: string, detail: string, ctx: EtcdContext): EtcdFailure {
  const at = `etcd at ${ctx.endpoints.join(', ')}`;
  const https = ctx.endpoints.some((e) => e.startsWith('https://'));
  if (/authentication failed|invalid user ID or password|invalid auth token|ErrAuthFailed/i.test(detail)) {
    return { kind: 'auth', message: `${what}: ${at} refused the credentials of user "${ctx.username ?? ''}": check --etcd-username and --etcd-password (WEFTD_ETCD_USERNAME, WEFTD_ETCD_PASSWORD)` };
  }
  if (/user name is empty|auth.*not enabled.*token|token.*required/i.test(detail)) {
    return { kind: 'auth', message: `${what}: ${at} requires authentication: set --etcd-username and --etcd-password (WEFTD_ETCD_USERNAME, WEFTD_ETCD_PASSWORD)` };
  }
  if (/PERMISSION_DENIED|permission denied/i.test(detail)) {
    return { kind: 'permission', message: `${what}: ${at} denied user "${ctx.username ?? ''}" access to ${ctx.prefix}: grant it a role with readwrite on the prefix (etcdctl role grant-permission <role> --prefix=true readwrite ${ctx.prefix}/)` };
  }
  if (TLS.test(detail)) {
    const why = /bad certificate|certificate required/i.test(detail)
      ? (ctx.clientCert ? 'etcd rejected this client certificate' : 'etcd wants a client certificate')
      : /unable to verify|self[- ]signed|expired|does not match/i.test(detail) ? 'etcd\'s server certificate is not trusted' : 'the TLS handshake failed';
    const fix = /bad certificate|certificate required/i.test(detail)
      ? 'give --etcd-certfile and --etcd-keyfile (WEFTD_ETCD_CERTFILE, WEFTD_ETCD_KEYFILE) signed by the CA etcd trusts (its --trusted-ca-file)'
      : 'give --etcd-cafile (WEFTD_ETCD_CAFILE) the CA that signed etcd\'s server certificate, and use endpoints that match its names';
    return { kind: 'tls', message: `${what}: TLS refused by ${at}: ${why}: ${fix}` };
  }
  if (UNREACHABLE.test(detail)) {
    const hint = https ? '' : '; if etcd serves TLS, use https:// endpoints';
    return { kind: 'unreachable', message: `${what}: ${at} is unreachable: check that etcd runs there and that --etcd-endpoints (WEFTD_ETCD_ENDPOINTS) is right${hint}` };
  }
  return { kind: 'other', message: `${what}: ${at} answered with an error: ${detail}` };
}
