import { afterEach, beforeEach, vi } from 'vitest';
import { opsFixture, type OpsFixture } from '../ops/helpers.js';
import { captureOutput, type CapturedOutput } from './capture-output.js';

/** What a test that calls the CLI's `main()` in process works with. */
export interface InProcessCli {
  /** A fresh temp dir with a credential key and a config path (opsFixture). */
  readonly fx: OpsFixture;
  /** What `main()` printed during this test. */
  readonly io: CapturedOutput;
}

/**
 * Registers the set-up of in-process CLI tests: before each test a new
 * opsFixture and captured stdout/stderr; after it the mocks are restored and
 * the temp dir removed. Call once at the top of a test file.
 */
export function useInProcessCli(): InProcessCli {
  let fx: OpsFixture | undefined;
  let io: CapturedOutput | undefined;
  beforeEach(() => {
    fx = opsFixture();
    io = captureOutput();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    fx?.cleanup();
    fx = undefined;
    io = undefined;
  });
  const inTest = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useInProcessCli: fx and io exist only while a test runs');
    return value;
  };
  return {
    get fx() {
      return inTest(fx);
    },
    get io() {
      return inTest(io);
    },
  };
}
