/** Where a weftctl command writes: its result to `out`, diagnostics to `err`. */
export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
}
