import { parentPort } from 'node:worker_threads';
import { openTtyTransport } from '../serial/tty-transport.js';
import { isForwarded, startLine, type LineHandle } from './line.js';
import type { FromLineWorker, ToLineWorker } from './line-protocol.js';

/**
 * The thread that runs the gateway's OSDP lines (started by line-host.ts).
 * Each line polls its readers on its own timers; this file only relays: the
 * host's open/feedback/stop to the lines, and the lines' events back.
 * Exchange counts are summed and sent every EXCHANGE_FLUSH_MS rather than one
 * message per exchange (about 33 a second per reader).
 */

const EXCHANGE_FLUSH_MS = 250;

const port = parentPort;
if (!port) throw new Error('line-worker.ts runs as a worker thread (drivers/osdp/line-host.ts starts it)');

const lines = new Map<string, LineHandle>();
const exchanges = new Map<string, Map<number, number>>();

const send = (m: FromLineWorker): void => port.postMessage(m);

const flushExchanges = (): void => {
  for (const [id, counts] of exchanges) {
    if (counts.size === 0) continue;
    send({ type: 'exchanges', id, counts: [...counts] });
    counts.clear();
  }
};
setInterval(flushExchanges, EXCHANGE_FLUSH_MS).unref();

port.on('message', (m: ToLineWorker) => {
  switch (m.type) {
    case 'open': {
      const counts = new Map<number, number>();
      exchanges.set(m.id, counts);
      // Not the serialport adapter: its native poller cannot run in a worker thread (tty-transport.ts says why).
      const line = startLine({ ...m.settings, openTransport: openTtyTransport }, {
        event: (event) => {
          if (event.type !== 'session' || isForwarded(event.event)) send({ type: 'event', id: m.id, event });
        },
        exchanges: (address, n) => counts.set(address, (counts.get(address) ?? 0) + n),
      });
      lines.set(m.id, line);
      void line.start().then(() => send({ type: 'started', id: m.id }));
      return;
    }
    case 'feedback':
      lines.get(m.id)?.feedback(
        m.address,
        m.commands.map((c) => ({ code: c.code, data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength) })),
      );
      return;
    case 'stop': {
      const line = lines.get(m.id);
      lines.delete(m.id);
      void (line?.stop() ?? Promise.resolve()).then(() => {
        flushExchanges();
        exchanges.delete(m.id);
        send({ type: 'stopped', id: m.id });
      });
      return;
    }
  }
});
