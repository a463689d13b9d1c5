/**
 * Whether a monitor process has joined its netlink multicast groups yet.
 * `ip monitor` and `bridge monitor` print nothing until the first event, so
 * the only outside sign that they are listening is in /proc: one of the
 * process's sockets is a NETLINK_ROUTE socket with a non-zero group mask in
 * /proc/<pid>/net/netlink (which lists the sockets of the namespace the
 * process is in, so it is read after `ip -n` has switched). From then on the
 * kernel queues every notification for it, whenever it gets to read them.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

const NETLINK_ROUTE = '0';

/**
 * Inodes of the NETLINK_ROUTE sockets with at least one multicast group,
 * from the text of /proc/<pid>/net/netlink (columns `sk Eth Pid Groups Rmem
 * Wmem Dump Locks Drops Inode`; Groups is the hex mask of groups 1-32).
 */
export function subscribedRouteSockets(table: string): Set<string> {
  const inodes = new Set<string>();
  for (const row of table.split('\n').slice(1)) {
    const cols = row.trim().split(/\s+/);
    const [eth, groups, inode] = [cols[1], cols[3], cols[9]];
    if (eth === NETLINK_ROUTE && groups !== undefined && /^[0-9a-f]+$/i.test(groups) && /[1-9a-f]/i.test(groups)
      && inode !== undefined) inodes.add(inode);
  }
  return inodes;
}

/** True when process `pid` holds a subscribed NETLINK_ROUTE socket; false when not (yet), or when it is gone. */
export async function isSubscribed(pid: number): Promise<boolean> {
  try {
    const [table, fds] = await Promise.all([readFile(`/proc/${pid}/net/netlink`, 'utf8'), readdir(`/proc/${pid}/fd`)]);
    const subscribed = subscribedRouteSockets(table);
    if (subscribed.size === 0) return false;
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    return targets.some((target) => subscribed.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? ''));
  } catch {
    return false;
  }
}
