import { connect as netConnect, type Socket } from 'node:net';

/** Hand-made MQTT 3.1.1 packets, for clients that misbehave on purpose (never read, never ping, lie about sizes). */
function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function connectPacket(clientId: string, username: string, password: string, keepaliveS: number): Buffer {
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(keepaliveS);
  // §3.1.2.3 flags: username (0x80), password (0x40), clean session (0x02).
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2]), ka, str(clientId), str(username), str(password)]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export function subscribePacket(messageId: number, filter: string, qos: 0 | 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  const body = Buffer.concat([id, str(filter), Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82]), remainingLength(body.length), body]);
}

/** Only the fixed header of a PUBLISH that claims `declared` bytes follow. */
export function publishHeader(declared: number): Buffer {
  return Buffer.concat([Buffer.from([0x30]), remainingLength(declared)]);
}

export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads until `count` bytes arrived (CONNACK, SUBACK: fixed sizes). */
export function readBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= count) {
        socket.off('data', onData);
        socket.pause();
        resolve(buf);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${buf.length} bytes`)));
  });
}

export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
  });
}
