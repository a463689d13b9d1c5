/** A pino logger that keeps its records in memory, for asserting on what was logged. */
import { type Logger, pino } from 'pino';

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function memoryLogger(level = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level, base: null }, { write: (line: string) => { records.push(JSON.parse(line) as LogRecord); } });
  return { log, records };
}

/** pino's numeric levels. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
