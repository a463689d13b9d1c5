/**
 * sd_notify without a native addon: systemd's own `systemd-notify` binary
 * sends the datagram to $NOTIFY_SOCKET (path or abstract socket). It runs as
 * a child process, so the unit sets NotifyAccess=all and we pass --pid so
 * systemd attributes the message to weftd's main process.
 */
import { execa } from 'execa';

/** Sends READY=1 (and a status line) when weftd runs under systemd; a no-op otherwise. */
export async function notifyReady(status: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env['NOTIFY_SOCKET']) return false;
  await execa('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], { env, timeout: 5000 });
  return true;
}
