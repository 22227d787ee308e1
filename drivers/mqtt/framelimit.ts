/**
 * Watches the raw byte stream of one connection and reports the first MQTT
 * packet whose declared size is over the limit, as soon as its fixed header
 * is complete, before the body is buffered (MQTT 3.1.1 §2.2: one type/flags
 * byte, then the Remaining Length in 1-4 bytes of 7 bits each, low first).
 * Pure and incremental: chunks may split packets anywhere.
 */
export type ScanVerdict = { ok: true } | { ok: false; reason: 'oversize'; declaredBytes: number } | { ok: false; reason: 'malformed' };

export interface PacketSizeScanner {
  feed(chunk: Uint8Array): ScanVerdict;
}

const OK: ScanVerdict = { ok: true };

export function createPacketSizeScanner(maxPacketBytes: number): PacketSizeScanner {
  let phase: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let lengthBytes = 0;
  let multiplier = 1;
  let bodyLeft = 0;
  let failed: ScanVerdict | undefined;

  return {
    feed(chunk) {
      if (failed) return failed;
      let i = 0;
      while (i < chunk.length) {
        if (phase === 'body') {
          const take = Math.min(bodyLeft, chunk.length - i);
          bodyLeft -= take;
          i += take;
          if (bodyLeft === 0) phase = 'type';
          continue;
        }
        const byte = chunk[i++]!;
        if (phase === 'type') {
          phase = 'length';
          length = 0;
          lengthBytes = 0;
          multiplier = 1;
          continue;
        }
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if (byte & 0x80) {
          // MQTT-2.2.3: at most four bytes of Remaining Length.
          if (lengthBytes === 4) return (failed = { ok: false, reason: 'malformed' });
          continue;
        }
        const total = 1 + lengthBytes + length;
        if (total > maxPacketBytes) return (failed = { ok: false, reason: 'oversize', declaredBytes: total });
        bodyLeft = length;
        phase = bodyLeft === 0 ? 'type' : 'body';
      }
      return OK;
    },
  };
}
