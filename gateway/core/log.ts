import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths pino replaces with "[redacted]": anything that could carry a secret or a card number. */
export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  'key',
  '*.token',
  '*.password',
  '*.passwordHash',
  '*.secret',
  '*.key',
  '*.authorization',
  'headers.authorization',
  'credential.value',
  '*.credential.value',
];

export interface LogOptions {
  level?: string;
  /** Human-readable output; defaults to on when stdout is a TTY. */
  pretty?: boolean;
  /** Destination stream (tests); defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/**
 * JSON logs to stdout (journald picks them up; nothing is written to the SD card),
 * pretty-printed when a person is watching a terminal.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
    base: { svc: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({ ...pinoOptions, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc' } } });
  }
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** A logger that drops everything (benchmarks, quiet tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
