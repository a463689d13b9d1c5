/**
 * `weftctl doctor`'s node name check: does this host's weftd hold its node
 * name's presence key, or does another running host (two hosts, one name)?
 * Pure: the CLI reads the key and this host's instance id.
 */
import { type CheckResult, fail, ok, warn } from './check-result.js';
import { type PresenceEntry, decodePresence, describeNameConflict } from './node-presence.js';

export function checkNodeName(nodeName: string, presence: PresenceEntry | undefined, instanceId: string | undefined): CheckResult {
  const check = 'node name';
  if (!presence) {
    return warn(check, `no running weftd holds node name "${nodeName}" in etcd`, 'start weftd on this host (systemctl start weftd); if it is running, see its log');
  }
  const decoded = decodePresence(presence.value);
  const holder = decoded.ok ? decoded.presence : undefined;
  if (holder && instanceId !== undefined && holder.instanceId === instanceId) {
    return ok(check, `"${nodeName}" is held by this host's weftd (public IP ${holder.publicIp}, started ${holder.startedAt})`);
  }
  return fail(check, describeNameConflict(nodeName, holder).replace(/\. Fix: .*$/, ''),
    'give each host a unique --node-name (or WEFTD_NODE_NAME) and restart weftd on the host that should not have this name');
}
