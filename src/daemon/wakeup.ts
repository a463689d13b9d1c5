/**
 * A coalescing trigger: any number of ring() calls while nobody waits wake
 * the next wait() once. The reconcile loop waits on it with a timeout, so it
 * runs on every change and on a timer.
 */
export class Wakeup {
  #pending = false;
  #resolve: (() => void) | undefined;

  ring(): void {
    this.#pending = true;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  /** Resolves on ring(), after `ms`, or when the signal aborts. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || signal.aborted) {
      this.#pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#resolve = done;
    });
    this.#pending = false;
  }
}
