import type { Command } from 'commander';
import { CliExit, EXIT_INVALID, EXIT_OK } from '../exit.js';

/** Prints a decoder's JSON and ends with 0 when the input decoded cleanly, 2 when it did not. */
function print(result: unknown): never {
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  const ok = typeof result === 'object' && result !== null && (result as { ok?: unknown }).ok === true;
  throw new CliExit(ok ? EXIT_OK : EXIT_INVALID);
}

/** `gatehouse decode osdp|wiegand|adv …`: technicians' decoders for captured bytes and bits. */
export function register(program: Command): void {
  const decode = program.command('decode').description('decode captured reader/beacon data and explain what is wrong with it');

  decode
    .command('osdp')
    .description('decode OSDP frames in a captured byte string (hex; spaces, colons and 0x allowed)')
    .argument('<hex...>', 'captured bytes in hex')
    .action(async (hex: string[]) => {
      const { explainOsdpHex } = await import('../../../drivers/osdp/explain.js');
      print(explainOsdpHex(hex.join(' ')));
    });

  decode
    .command('wiegand')
    .description('decode a Wiegand frame: format, facility/company code, card number, parity')
    .argument('<bits>', 'string of 0/1 as sent on the wire (or hex with --hex and --bits)')
    .option('--hex', 'the argument is hex')
    .option('--bits <n>', 'bit count (required with --hex)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new CliExit(EXIT_INVALID, `--bits must be a positive whole number, got "${v}"`);
      return n;
    })
    .action(async (bits: string, opts: { hex?: boolean; bits?: number }) => {
      const { explainWiegand } = await import('../../../drivers/wiegand/explain.js');
      print(explainWiegand(bits, opts));
    });

  decode
    .command('adv')
    .description('decode a captured BLE advertisement (raw AD structures, hex): iBeacon or Eddystone UID/URL/TLM')
    .argument('<hex...>', 'advertisement bytes in hex')
    .action(async (hex: string[]) => {
      const { explainAdvertisement } = await import('../../../drivers/ble/decode.js');
      print(explainAdvertisement(hex.join('')));
    });
}
