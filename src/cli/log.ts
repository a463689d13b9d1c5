/** The one place pino is configured: JSON lines, to stdout by default (journald). */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: LevelWithSilent, name: string, fd = 1): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: fd, sync: true }));
}
