import * as crypto from 'node:crypto';
import type { Credential, CredentialKind } from '../core/types.js';
import { GatehouseError } from '../errors.js';

/** Shorter keys make the HMAC guessable offline from a stolen SD card (RFC 2104 §3: at least the hash output length). */
export const MIN_KEY_BYTES = 32;
/** QR payloads are the longest credentials readers send; anything past this is noise or an attack. */
export const MAX_CREDENTIAL_LENGTH = 1024;

const KINDS: ReadonlySet<string> = new Set<CredentialKind>(['card', 'pin', 'barcode', 'mobile']);
// Canonical card text from docs/credentials.md: `[facility:]number` or `raw:<bits>:<hex>`.
const CARD = /^(?:(?:\d{1,10}:)?\d{1,40}|raw:\d{1,4}:[0-9a-fA-F]{1,256})$/;
const PIN = /^\d{1,16}$/;
// Printable text only: C0/C1 controls, DEL, lone surrogates and non-characters are never in a real payload.
const PRINTABLE = /^[\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd]+$/;

export function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length < MIN_KEY_BYTES) {
    throw new GatehouseError('GH_ACCESS_KEY', `credential key must be at least ${MIN_KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : 'none'})`);
  }
}

/**
 * Why a credential is unusable, or undefined when it is well-formed. Takes
 * `unknown` because reads come from hostile wires: a driver bug must become a
 * deny, never an exception on the card-read path.
 */
export function credentialProblem(credential: unknown): string | undefined {
  if (typeof credential !== 'object' || credential === null) return 'not an object';
  const { kind, value } = credential as { kind?: unknown; value?: unknown };
  if (typeof kind !== 'string' || !KINDS.has(kind)) return 'unknown kind';
  if (typeof value !== 'string') return 'value is not text';
  if (value.length === 0) return 'empty';
  if (value.length > MAX_CREDENTIAL_LENGTH) return 'too long';
  if (!PRINTABLE.test(value)) return 'non-printable characters';
  if (kind === 'card' && !CARD.test(value)) return 'malformed card number';
  if (kind === 'pin' && !PIN.test(value)) return 'malformed PIN';
  return undefined;
}

/** HMAC-SHA256(key, kind + ':' + value): what the store keeps instead of the credential. */
export function hashCredential(key: Buffer, credential: Pick<Credential, 'kind' | 'value'>): Buffer {
  return crypto.createHmac('sha256', key).update(`${credential.kind}:${credential.value}`, 'utf8').digest();
}

const BLOCK = 64;
const SCRATCH_BYTES = BLOCK + 4 * MAX_CREDENTIAL_LENGTH + 16;

/**
 * A `hashCredential` bound to one key, about twice as fast on the card-read
 * path (scripts/bench/access.ts): HMAC per RFC 2104 §2 with the padded keys
 * computed once and Node's one-shot `crypto.hash`, which skips the Hmac
 * object createHmac allocates per call. Same output as `hashCredential`.
 */
export function credentialHasher(key: Buffer): (credential: Pick<Credential, 'kind' | 'value'>) => Buffer {
  assertKey(key);
  const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;
  // Node < 20.12 has no crypto.hash; keys longer than a block are hashed first (RFC 2104 §2), which the slow path does.
  if (typeof oneShot !== 'function' || key.length > BLOCK) return (credential) => hashCredential(key, credential);
  const inner = Buffer.alloc(SCRATCH_BYTES, 0x36);
  const outer = Buffer.alloc(BLOCK + 32, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] = (key[i] ?? 0) ^ 0x36;
    outer[i] = (key[i] ?? 0) ^ 0x5c;
  }
  return (credential) => {
    const kind = credential.kind;
    const value = credential.value;
    if (kind.length + 1 + value.length * 3 > SCRATCH_BYTES - BLOCK) return hashCredential(key, credential);
    let n = inner.write(kind, BLOCK, 'utf8');
    n += inner.write(':', BLOCK + n, 'utf8');
    n += inner.write(value, BLOCK + n, 'utf8');
    oneShot('sha256', inner.subarray(0, BLOCK + n), 'buffer').copy(outer, BLOCK);
    return oneShot('sha256', outer, 'buffer');
  };
}
