/**
 * A tiny structured logger for the plugin: one JSON object per line in pino's
 * layout (numeric level, time, pid, name, msg), so pino-pretty and the
 * daemon's tooling read it, without loading pino into a process that lives
 * for a few milliseconds. Lines go to stderr or to the netconf's `logFile`,
 * never to stdout (the CNI protocol stream).
 */
import { appendFileSync } from 'node:fs';
import type { LogLevel } from './netconf.js';

const LEVEL_NUMBERS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Appends when set; otherwise lines go to `stderr`. */
  readonly file: string | undefined;
  readonly stderr: { write(text: string): unknown };
  /** Fields added to every line (e.g. the command and container ID). */
  readonly base?: LogFields;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LEVEL_NUMBERS[options.level];
  const emit = (level: LogLevel, msg: string, fields: LogFields | undefined): void => {
    const number = LEVEL_NUMBERS[level];
    if (number < threshold) return;
    const line = JSON.stringify({ level: number, time: Date.now(), pid: process.pid, name: 'weft-cni', ...options.base, ...serialize(fields), msg }) + '\n';
    if (options.file === undefined) {
      options.stderr.write(line);
      return;
    }
    try {
      appendFileSync(options.file, line, { mode: 0o600 });
    } catch {
      options.stderr.write(line);
    }
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

function serialize(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined || !(fields['err'] instanceof Error)) return fields;
  const err = fields['err'];
  const code = (err as { cniCode?: unknown }).cniCode;
  return { ...fields, err: { type: err.name, message: err.message, ...(code === undefined ? {} : { cniCode: code }) } };
}
