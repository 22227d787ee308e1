import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PASSWORD_HASH_PATTERN, generatePassword, hashPassword, parsePasswordHash, verifyPassword } from './password.js';

const cheap = { N: 1024, r: 8, p: 1 };

describe('device passwords (scrypt)', () => {
  it('verifies the right password and refuses any other', async () => {
    const stored = parsePasswordHash(await hashPassword('s3cret', cheap))!;
    expect(await verifyPassword('s3cret', stored)).toBe(true);
    expect(await verifyPassword(Buffer.from('s3cret'), stored)).toBe(true);
    expect(await verifyPassword('s3cret ', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash: the same password never hashes twice to the same text', async () => {
    const [a, b] = await Promise.all([hashPassword('same', cheap), hashPassword('same', cheap)]);
    expect(a).not.toBe(b);
    expect(a).toMatch(PASSWORD_HASH_PATTERN);
    expect(a.startsWith('scrypt$1024$8$1$')).toBe(true);
  });

  it('refuses hashes out of format or with unsafe parameters', () => {
    const salt = Buffer.alloc(16, 1).toString('base64url');
    const hash = Buffer.alloc(32, 2).toString('base64url');
    expect(parsePasswordHash(`scrypt$16384$8$1$${salt}$${hash}`)).toBeDefined();
    expect(parsePasswordHash(`scrypt$1000$8$1$${salt}$${hash}`)).toBeUndefined();
    expect(parsePasswordHash(`scrypt$2097152$8$1$${salt}$${hash}`)).toBeUndefined();
    expect(parsePasswordHash(`scrypt$16384$0$1$${salt}$${hash}`)).toBeUndefined();
    expect(parsePasswordHash(`scrypt$16384$8$99$${salt}$${hash}`)).toBeUndefined();
    expect(parsePasswordHash('hunter2')).toBeUndefined();
    expect(parsePasswordHash(`bcrypt$16384$8$1$${salt}$${hash}`)).toBeUndefined();
  });

  it('never throws on arbitrary text (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parsePasswordHash(s)));
  });

  it('generates 32-character URL-safe passwords that differ', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });
});
