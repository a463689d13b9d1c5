/**
 * This weftd's instance id, for the node presence key: a hash of the kernel's
 * boot id and the inode of the process's network namespace. It is the same
 * for a weftd restart on the same host (so a restart takes its name back at
 * once), and different for a cloned VM (another boot id), for each host of a
 * namespace rig (one kernel, other namespaces) and after a reboot.
 */
import { createHash } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';

export async function readInstanceId(): Promise<string> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const netns = await readlink('/proc/self/ns/net'); // "net:[4026531840]"
  return createHash('sha256').update(`${bootId}\n${netns}`).digest('hex').slice(0, 32);
}
