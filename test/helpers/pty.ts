import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when socat is on PATH (tests that need a PTY pair skip with a message otherwise). */
export function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

export interface PtyPair {
  /** Path the gateway side opens (like /dev/ttyUSB0). */
  gateway: string;
  /** Path the simulated device opens. */
  device: string;
  close(): Promise<void>;
}

/**
 * Two linked pseudo-terminals made by socat: bytes written on one side are
 * read on the other, through the kernel's tty layer, like a null-modem cable.
 * `raw,echo=0` keeps the line discipline from translating or echoing bytes.
 */
export async function createPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pty-'));
  const gateway = join(dir, 'gateway');
  const device = join(dir, 'device');
  // Its own process group: a Ctrl-C in the terminal (SIGINT to the whole foreground group)
  // must not cut the line before the gateway has stopped; close() ends it.
  const proc: ChildProcess = spawn('socat', ['-d', `pty,raw,echo=0,link=${gateway}`, `pty,raw,echo=0,link=${device}`], { stdio: 'ignore', detached: true });
  const deadline = Date.now() + 10_000;
  while (!(existsSync(gateway) && existsSync(device))) {
    if (proc.exitCode !== null) throw new Error(`socat exited with ${proc.exitCode}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('socat did not create the PTY pair within 10 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    gateway,
    device,
    close: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
