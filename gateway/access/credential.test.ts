import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertKey, credentialHasher, credentialProblem, hashCredential, MAX_CREDENTIAL_LENGTH } from './credential.js';

describe('credential validation', () => {
  it.each([
    [{ kind: 'card', value: '12345' }, undefined],
    [{ kind: 'card', value: '123:45678' }, undefined],
    [{ kind: 'card', value: 'raw:37:1f2e3d4c5' }, undefined],
    [{ kind: 'pin', value: '0042' }, undefined],
    [{ kind: 'barcode', value: 'EVT-2026|SEAT 12A|ÄÖ' }, undefined],
    [{ kind: 'mobile', value: 'pass.io.gatehouse:abc' }, undefined],
    [{ kind: 'card', value: '' }, 'empty'],
    [{ kind: 'card', value: '12a' }, 'malformed card number'],
    [{ kind: 'pin', value: '12 34' }, 'malformed PIN'],
    [{ kind: 'barcode', value: 'a\u0000b' }, 'non-printable characters'],
    [{ kind: 'barcode', value: 'a\u009bb' }, 'non-printable characters'],
    [{ kind: 'barcode', value: 'a\ud800b' }, 'non-printable characters'],
    [{ kind: 'barcode', value: 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1) }, 'too long'],
    [{ kind: 'retina', value: '1' }, 'unknown kind'],
    [{ kind: 'card', value: 12 }, 'value is not text'],
    [null, 'not an object'],
    ['12345', 'not an object'],
  ])('%j -> %s', (credential, problem) => {
    expect(credentialProblem(credential)).toBe(problem);
  });

  it('never throws, whatever arrives (property)', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const p = credentialProblem(value);
        expect(p === undefined || typeof p === 'string').toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom('card', 'pin', 'barcode', 'mobile'), fc.string({ unit: 'binary', maxLength: 2000 }), (kind, value) => {
        credentialProblem({ kind, value });
      }),
    );
  });

  it('accepts every canonical card number (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 65535 }), fc.bigInt({ min: 0n, max: 2n ** 64n }), (facility, number) => credentialProblem({ kind: 'card', value: `${facility}:${number}` }) === undefined));
  });
});

describe('credential hashing', () => {
  const key = Buffer.alloc(32, 1);

  it('is HMAC-SHA256 over kind:value (vector from openssl, not from our code)', () => {
    // printf 'card:12345' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0101…01 (32 bytes)
    expect(hashCredential(key, { kind: 'card', value: '12345' }).toString('hex')).toBe('f26bffab42b346229af6bb168b5c62f3083f6b8dbf3d320c0964a7010e13e269');
  });

  it('separates kinds and keys', () => {
    const card = hashCredential(key, { kind: 'card', value: '1' });
    expect(card).not.toEqual(hashCredential(key, { kind: 'pin', value: '1' }));
    expect(card).not.toEqual(hashCredential(Buffer.alloc(32, 2), { kind: 'card', value: '1' }));
  });

  it('requires a key of at least 32 bytes', () => {
    expect(() => assertKey(Buffer.alloc(31))).toThrow(expect.objectContaining({ code: 'GH_ACCESS_KEY' }));
    expect(() => assertKey('x'.repeat(40) as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'GH_ACCESS_KEY' }));
    expect(() => assertKey(Buffer.alloc(32))).not.toThrow();
  });
});

describe('the bound hasher', () => {
  it('gives the same bytes as hashCredential for any credential and key (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 100 }), fc.constantFrom('card', 'pin', 'barcode', 'mobile'), fc.string({ unit: 'grapheme', maxLength: 1200 }), (keyBytes, kind, value) => {
        const key = Buffer.from(keyBytes);
        expect(credentialHasher(key)({ kind, value })).toEqual(hashCredential(key, { kind, value }));
      }),
      { numRuns: 300 },
    );
  });
});
