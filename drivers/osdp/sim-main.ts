import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { openSerialTransport } from '../serial/transport.js';
import { cardFormat, encodeCard } from '../wiegand/formats.js';
import { OsdpSimulator, type SimFeedback } from './sim.js';

/**
 * Standalone simulated OSDP readers on a serial port or PTY, for the demo and
 * the venue simulator:
 *
 *   node --import tsx drivers/osdp/sim-main.ts --port PATH [--baud 115200] --address 0 [--address 1 ...] [--scbk HEX] [--install]
 *
 * stdin, one command per line:
 *   card <address> <format> <facility> <card>   e.g. `card 0 H10301 12 3456`
 *   bits <address> <bitstring>                  e.g. `bits 1 01010...`
 *   keypad <address> <digits>
 *   tamper <address> on|off
 *   silent <address> on|off
 * stdout, one line per event: `ready`, `led <address> <colour>`, `out <address> <output> <control> <ms>`,
 * `buz <address> <count>`, `text <address> <text>`, `keyset <address>`, `error <message>`.
 */

export function parseSimArgs(argv: string[]): { port: string; baud: number; addresses: number[]; scbk?: Buffer; install: boolean } | { error: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, baud: { type: 'string', default: '115200' }, address: { type: 'string', multiple: true }, scbk: { type: 'string' }, install: { type: 'boolean', default: false } },
      strict: true,
    }));
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (!values.port) return { error: '--port PATH is required' };
  const baud = Number(values.baud);
  if (!Number.isInteger(baud) || baud <= 0) return { error: `--baud must be a positive integer, got "${values.baud}"` };
  const addresses = (values.address ?? ['0']).map(Number);
  if (addresses.some((a) => !Number.isInteger(a) || a < 0 || a > 126)) return { error: '--address must be 0-126' };
  if (values.scbk !== undefined && !/^[0-9a-fA-F]{32}$/.test(values.scbk)) return { error: '--scbk must be 32 hex digits' };
  return { port: values.port, baud, addresses, ...(values.scbk ? { scbk: Buffer.from(values.scbk, 'hex') } : {}), install: values.install ?? false };
}

/** Applies one stdin line to the simulator; returns an error text for a bad line. */
export function applySimLine(sim: OsdpSimulator, line: string): string | undefined {
  const parts = line.trim().split(/\s+/);
  const [cmd, addrText] = parts;
  if (!cmd) return undefined;
  const address = Number(addrText);
  if (!Number.isInteger(address)) return `bad address in "${line}"`;
  try {
    switch (cmd) {
      case 'card': {
        const [, , format, facility, card] = parts;
        if (!format || !cardFormat(format)) return `unknown card format "${format ?? ''}"`;
        sim.presentCard(address, encodeCard(format, { facility: Number(facility), card: Number(card) }));
        return undefined;
      }
      case 'bits':
        if (!/^[01]+$/.test(parts[2] ?? '')) return 'bits needs a string of 0 and 1';
        sim.presentCard(address, parts[2]!);
        return undefined;
      case 'keypad':
        sim.presentKeypad(address, parts[2] ?? '');
        return undefined;
      case 'tamper':
        sim.setTamper(address, parts[2] === 'on');
        return undefined;
      case 'silent':
        sim.setSilent(address, parts[2] === 'on');
        return undefined;
      default:
        return `unknown command "${cmd}" (card, bits, keypad, tamper, silent)`;
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** The stdout line for a feedback command the simulator received. */
export function feedbackLine(f: SimFeedback): string {
  const d = f.detail as Record<string, unknown> & { records?: Array<Record<string, unknown>> };
  switch (f.command) {
    case 'LED':
      return `led ${f.address} ${String(d.records?.[0]?.color ?? '?')}`;
    case 'OUT':
      return `out ${f.address} ${String(d.records?.[0]?.output ?? '?')} ${String(d.records?.[0]?.control ?? '?')} ${String(d.records?.[0]?.timerMs ?? '?')}`;
    case 'BUZ':
      return `buz ${f.address} ${String(d.count)}`;
    default:
      return `text ${f.address} ${String(d.text)}`;
  }
}

async function main(): Promise<void> {
  const args = parseSimArgs(process.argv.slice(2));
  if ('error' in args) {
    process.stderr.write(`${args.error}\nusage: sim-main --port PATH [--baud 115200] --address N [--address M ...] [--scbk HEX] [--install]\n`);
    process.exitCode = 2;
    return;
  }
  const transport = await openSerialTransport({ path: args.port, baudRate: args.baud });
  const sim = new OsdpSimulator({
    transport,
    baudRate: args.baud,
    readers: args.addresses.map((address) => ({ address, ...(args.scbk ? { scbk: args.scbk } : {}), installMode: args.install })),
  });
  sim.on('feedback', (f: SimFeedback) => process.stdout.write(feedbackLine(f) + '\n'));
  sim.on('keyset', (e: { address: number }) => process.stdout.write(`keyset ${e.address}\n`));
  transport.onClose(() => {
    process.stdout.write('error serial line closed\n');
    process.exit(1);
  });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const err = applySimLine(sim, line);
    if (err) process.stdout.write(`error ${err}\n`);
  });
  rl.on('close', () => {
    sim.close();
    void transport.close().then(() => process.exit(0));
  });
  process.stdout.write('ready\n');
}

if (process.argv[1] !== undefined && /sim-main\.(ts|js)$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
