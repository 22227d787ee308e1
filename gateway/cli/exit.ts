/** CLI exit codes (DESIGN.md contract 5). */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_INVALID = 2;

/** Thrown by a command to end with a code after printing its own message. */
export class CliExit extends Error {
  constructor(readonly exitCode: number, message = '') {
    super(message);
    this.name = 'CliExit';
  }
}
