import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Device passwords are stored as scrypt hashes, never in clear (issue #6):
 *
 *     scrypt$<N>$<r>$<p>$<salt, base64url>$<hash, base64url>
 *
 * The cost parameters travel with each hash, so they can be raised later
 * without invalidating devices already provisioned.
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

/**
 * 2^12 (4 MiB, ~45 ms on one core of a small ARM/x86 box). The cost guards
 * guessable passwords; ours are 192 random bits from `gatehouse device add`, which
 * no cost factor makes easier or harder to guess. What the cost does decide is
 * how long 200 devices reconnecting after a gateway restart keep the thread pool
 * busy (200 x 45 ms / cores), so it stays modest. Stronger hashes still verify.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 4096, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

export const PASSWORD_HASH_PATTERN = /^scrypt\$\d{1,8}\$\d{1,2}\$\d{1,2}\$[A-Za-z0-9_-]{16,128}\$[A-Za-z0-9_-]{16,128}$/;

/** Parses a stored hash; undefined when it is not of our format or its parameters are out of range. */
export function parsePasswordHash(text: string): ParsedHash | undefined {
  if (!PASSWORD_HASH_PATTERN.test(text)) return undefined;
  const [, n, r, p, salt, hash] = text.split('$') as [string, string, string, string, string, string];
  const N = Number(n);
  const params = { N, r: Number(r), p: Number(p) };
  // Bounds keep a hostile or mistyped config from asking for gigabytes (maxmem below) or hours.
  if (N < 1024 || N > 1_048_576 || (N & (N - 1)) !== 0) return undefined;
  if (params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return undefined;
  const saltBuf = Buffer.from(salt, 'base64url');
  const hashBuf = Buffer.from(hash, 'base64url');
  if (saltBuf.length < 8 || hashBuf.length < 16) return undefined;
  return { ...params, salt: saltBuf, hash: hashBuf };
}

function derive(password: Buffer | string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1_048_576 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, KEY_LENGTH, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Constant-time check of a password against a parsed hash; runs on libuv's thread pool, never on the event loop. */
export async function verifyPassword(password: Buffer | string, stored: ParsedHash): Promise<boolean> {
  const candidate = await derive(password, stored.salt, stored.hash.length, stored);
  return candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash);
}

/** A random device password: 24 bytes of entropy, URL- and shell-safe. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
