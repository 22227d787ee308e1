import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../gateway/errors.js';
import { SignedBodyVerifier, parsePublicKey, signLines } from './signature.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

function run(body: Buffer, cuts: number[], key = publicKey) {
  const lines: string[] = [];
  const v = new SignedBodyVerifier(key, (l) => lines.push(l.toString('utf8')));
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    v.push(body.subarray(at, c));
    at = c;
  }
  v.push(body.subarray(at));
  v.finish();
  return lines;
}

const lineArb = fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => JSON.stringify({ s })), { minLength: 1, maxLength: 8 });

describe('signed NDJSON', () => {
  it('verifies and yields the same lines however the body is split into chunks (property)', () => {
    fc.assert(
      fc.property(lineArb, fc.array(fc.nat(), { maxLength: 6 }), (lines, rawCuts) => {
        const body = Buffer.from(signLines(lines, privateKey));
        const cuts = rawCuts.map((c) => c % (body.length + 1));
        expect(run(body, cuts)).toEqual(lines.map((l) => l + '\n'));
      }),
    );
  });

  it('rejects any single changed byte before the signature line (property)', () => {
    fc.assert(
      fc.property(lineArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (lines, pos, flip) => {
        const body = Buffer.from(signLines(lines, privateKey));
        const sigStart = body.lastIndexOf('{"gatehouse":"signature"');
        const i = pos % sigStart;
        body[i] = body[i]! ^ flip;
        let err: unknown;
        try {
          run(body, []);
        } catch (e) {
          err = e;
        }
        expect(isGatehouseError(err)).toBe(true);
      }),
    );
  });

  it('rejects a body without a signature line, a body signed by another key, and bytes after the signature', () => {
    const lines = ['{"gatehouse":"snapshot"}', '{"holder":"h"}'];
    expect(() => run(Buffer.from(lines.join('\n') + '\n'), [])).toThrow(/not signed/);
    expect(() => run(Buffer.from(signLines(lines, other.privateKey)), [])).toThrow(/bad signature/);
    expect(() => run(Buffer.from(signLines(lines, privateKey) + '{"extra":1}\n'), [])).toThrow(/not signed/);
    expect(() => run(Buffer.from(signLines(lines, privateKey)).subarray(0, 30), [])).toThrow(/not signed/);
  });

  it('refuses a line longer than the limit instead of buffering it without bound', () => {
    const v = new SignedBodyVerifier(publicKey, () => undefined, 16);
    expect(() => v.push(Buffer.alloc(64, 0x61))).toThrow(/longer than 16 bytes/);
  });

  it('reads the central public key as PEM or as 32 raw bytes in base64, and refuses anything else', () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const raw = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).subarray(12).toString('base64');
    const body = Buffer.from(signLines(['{"a":1}'], privateKey));
    expect(run(body, [], parsePublicKey(pem))).toHaveLength(1);
    expect(run(body, [], parsePublicKey(raw + '\n'))).toHaveLength(1);
    expect(() => parsePublicKey('bm90IGEga2V5')).toThrow(expect.objectContaining({ code: 'GH_DOWNLINK_SIGNATURE' }));
  });
});
