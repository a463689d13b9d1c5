/**
 * A file a child process writes lines to, read from the bench by polling.
 * The kernel monitors write to files rather than pipes: a pipe fills (64 KiB)
 * whenever the bench is slow to read it, the monitor then blocks, stops
 * reading its netlink socket, and the kernel drops notifications (ENOBUFS).
 * A file never blocks the writer, and the bench reads it when it can (the
 * monitors' own timestamps time the changes, so reading late costs nothing).
 */
import { closeSync, openSync, readSync } from 'node:fs';

export class LineFile {
  /** The descriptor to hand to the child as its stdout. */
  readonly writeFd: number;
  readonly #readFd: number;
  readonly #buffer = Buffer.alloc(1 << 20);
  #position = 0;
  #partial = '';

  constructor(readonly path: string) {
    this.writeFd = openSync(path, 'w');
    this.#readFd = openSync(path, 'r');
  }

  /** Every complete line written since the last call. */
  readLines(): string[] {
    let text = '';
    for (;;) {
      const n = readSync(this.#readFd, this.#buffer, 0, this.#buffer.length, this.#position);
      if (n <= 0) break;
      this.#position += n;
      text += this.#buffer.toString('utf8', 0, n);
      if (n < this.#buffer.length) break;
    }
    if (text === '') return [];
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    return lines;
  }

  close(): void {
    closeSync(this.writeFd);
    closeSync(this.#readFd);
  }
}
