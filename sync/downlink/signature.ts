import { createHash, createPublicKey, sign, verify, type Hash, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../../gateway/errors.js';

/**
 * Signed NDJSON, the framing of every downlink body (docs/sync.md):
 *
 *   {"gatehouse":"snapshot", ...meta}\n     <- first line: what the body is
 *   {...}\n                                 <- one record / change per line
 *   {"gatehouse":"signature","alg":"ed25519","sha256":"<hex>","sig":"<base64>"}
 *
 * The signature covers the ASCII message `gatehouse-ndjson-v1 <sha256 hex>`,
 * where the SHA-256 is over every byte before the signature line. Hashing
 * first lets both sides stream a body of any size in constant memory (Node's
 * Ed25519 needs the whole message in one buffer); the meta line inside the
 * hash binds the kind, gateway and cursor so one signed body cannot be passed
 * off as another.
 */
export const SIGNED_MESSAGE_PREFIX = 'gatehouse-ndjson-v1 ';

export interface SignatureLine {
  gatehouse: 'signature';
  alg: 'ed25519';
  sha256: string;
  sig: string;
}

export function signDigest(sha256Hex: string, privateKey: KeyObject): string {
  return sign(null, Buffer.from(SIGNED_MESSAGE_PREFIX + sha256Hex, 'ascii'), privateKey).toString('base64');
}

export function signatureLine(sha256Hex: string, privateKey: KeyObject): string {
  const line: SignatureLine = { gatehouse: 'signature', alg: 'ed25519', sha256: sha256Hex, sig: signDigest(sha256Hex, privateKey) };
  return JSON.stringify(line) + '\n';
}

/** Builds a whole signed body from lines (each without its newline). For the stand-in and tests. */
export function signLines(lines: readonly string[], privateKey: KeyObject): string {
  const body = lines.map((l) => l + '\n').join('');
  return body + signatureLine(createHash('sha256').update(body).digest('hex'), privateKey);
}

/**
 * Reads the Ed25519 public key from config: PEM (SPKI) or the raw 32-byte key
 * in base64. Throws GH_DOWNLINK_SIGNATURE when it is neither.
 */
export function parsePublicKey(text: string | Buffer): KeyObject {
  const s = Buffer.isBuffer(text) ? text.toString('utf8') : text;
  try {
    if (s.includes('-----BEGIN')) return createPublicKey(s);
    const raw = Buffer.from(s.trim(), 'base64');
    if (raw.length !== 32) throw new Error(`expected 32 bytes, got ${raw.length}`);
    // SPKI DER prefix of an Ed25519 key (RFC 8410 §4), followed by the raw key.
    const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    throw new GatehouseError('GH_DOWNLINK_SIGNATURE', `the central public key is not an Ed25519 key: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/**
 * Incremental verifier of a signed NDJSON body. `push` each chunk as it
 * arrives; every line is handed to `onLine` only once a later byte proves it
 * is not the signature line, so the caller can stage it. `finish` throws
 * GH_DOWNLINK_SIGNATURE unless the last line is a valid signature over all
 * bytes before it.
 */
export class SignedBodyVerifier {
  private readonly hash: Hash = createHash('sha256');
  private partial: Buffer[] = [];
  private held: Buffer | undefined;
  private lines = 0;
  bytes = 0;

  constructor(
    private readonly publicKey: KeyObject,
    private readonly onLine: (line: Buffer, index: number) => void,
    private readonly maxLineBytes = 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl + 1);
      const line = this.partial.length > 0 ? Buffer.concat([...this.partial, piece]) : Buffer.from(piece);
      this.partial = [];
      this.commitHeld();
      this.held = line;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.commitHeld();
      this.partial.push(Buffer.from(chunk.subarray(start)));
      if (this.partial.reduce((n, b) => n + b.length, 0) > this.maxLineBytes) {
        throw new GatehouseError('GH_DOWNLINK_FORMAT', `a line is longer than ${this.maxLineBytes} bytes`);
      }
    }
  }

  /** Verifies the signature line; returns how many lines (before it) were handed out. */
  finish(): number {
    const tail = Buffer.concat([...(this.held ? [this.held] : []), ...this.partial]);
    this.held = undefined;
    this.partial = [];
    const digest = this.hash.digest('hex');
    let sigLine: Partial<SignatureLine>;
    try {
      sigLine = JSON.parse(tail.toString('utf8')) as Partial<SignatureLine>;
    } catch {
      throw new GatehouseError('GH_DOWNLINK_SIGNATURE', 'the body is not signed (its last line is not a signature line)');
    }
    if (sigLine?.gatehouse !== 'signature' || sigLine.alg !== 'ed25519' || typeof sigLine.sig !== 'string') {
      throw new GatehouseError('GH_DOWNLINK_SIGNATURE', 'the body is not signed (its last line is not an ed25519 signature line)');
    }
    if (sigLine.sha256 !== digest) {
      throw new GatehouseError('GH_DOWNLINK_SIGNATURE', 'the body does not match its signed digest (modified or truncated)');
    }
    let ok = false;
    try {
      ok = verify(null, Buffer.from(SIGNED_MESSAGE_PREFIX + digest, 'ascii'), this.publicKey, Buffer.from(sigLine.sig, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) throw new GatehouseError('GH_DOWNLINK_SIGNATURE', 'bad signature: the body was not signed by the configured central key');
    return this.lines;
  }

  private commitHeld(): void {
    if (!this.held) return;
    this.hash.update(this.held);
    this.onLine(this.held, this.lines++);
    this.held = undefined;
  }
}
