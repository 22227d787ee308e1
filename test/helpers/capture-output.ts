import { vi } from 'vitest';

/** What an in-process CLI call printed; `clear()` between calls of one test. */
export interface CapturedOutput {
  out: string;
  err: string;
  clear(): void;
}

/**
 * Captures process.stdout/stderr writes of an in-process `main()` call.
 * Call in beforeEach; `vi.restoreAllMocks()` in afterEach undoes it.
 */
export function captureOutput(): CapturedOutput {
  const io: CapturedOutput = {
    out: '',
    err: '',
    clear() {
      io.out = '';
      io.err = '';
    },
  };
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((io.out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((io.err += String(chunk)), true));
  return io;
}
