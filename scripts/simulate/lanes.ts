import type { Socket } from 'node:net';
import type { SimFeedback } from '../../drivers/osdp/sim.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import { cardPulses, socketScript } from '../../drivers/wiegand/sim.js';
import { encodeSerialFrame } from '../../drivers/serial-reader/sim.js';
import { decodeSerialFrames } from '../../drivers/serial-reader/decode.js';
import type { SerialFraming } from '../../drivers/serial-reader/config.js';
import type { EntitlementRecord } from '../../gateway/access/model.js';
import type { Arrival } from './crowd.js';
import type { DeviceEnds } from './devices.js';
import type { EntryLane, Transport } from './venue.js';

interface Pending {
  arrival: Arrival;
  at: number;
}

/** OSDP LED colours the gateway shows for a grant (drivers/osdp/driver.ts). */
const GRANT_COLOURS = new Set(['green', 'blue', 'white', 'cyan']);

/**
 * Presents cards at the venue's entry lanes and times each one until its
 * answer is back at the device: the OSDP reader's OUT or LED command, the
 * MQTT gate's decision reply, the Wiegand lane's relay or buzzer line.
 */
export class LaneTimer {
  /** Every timed answer, with its lane. */
  readonly latencies: Array<{ transport: Transport; lane: string; ms: number }> = [];
  /** The same by second of presentation (from `t0`), for the live line (no scan of the whole run each second). */
  readonly bySecond: number[][] = [];
  /** Presented, not yet answered. */
  readonly outstanding = new Set<Pending>();
  answered = 0;
  granted = 0;
  denied = 0;
  /** Answers that differ from what the crowd model expected. */
  unexpected = 0;
  private readonly osdpPending = new Map<string, Pending[]>();
  private readonly osdpSawOut = new Set<string>();
  private readonly wiegandPending = new Map<string, Pending[]>();

  constructor(
    private readonly ends: DeviceEnds,
    private readonly lanes: readonly EntryLane[],
    private readonly t0: number,
  ) {
    for (const [device, { sim }] of ends.osdp) sim.on('feedback', (f: SimFeedback) => this.onOsdpFeedback(`${device}/${f.address}`, f));
    for (const [device, socket] of ends.wiegand) this.listenWiegand(device, socket);
  }

  present(lane: EntryLane, arrival: Arrival): void {
    const p: Pending = { arrival, at: performance.now() };
    this.outstanding.add(p);
    switch (lane.transport) {
      case 'osdp': {
        queue(this.osdpPending, `${lane.device}/${lane.reader}`).push(p);
        this.ends.osdp.get(lane.device)!.sim.presentCard(Number(lane.reader), encodeCard('H10301', arrival));
        break;
      }
      case 'mqtt': {
        void this.ends.mqtt
          .get(lane.device)!
          .scan({ kind: 'card', value: arrival.credential })
          .then((d) => this.done(p, 'mqtt', d.result === 'granted' ? 'granted' : 'denied', performance.now()));
        break;
      }
      case 'wiegand': {
        queue(this.wiegandPending, lane.device).push(p);
        this.ends.wiegand.get(lane.device)!.write(socketScript(cardPulses('H10301', arrival, { intervalMs: 1 }), { gapBeforeMs: 40 }));
        break;
      }
      case 'serial':
        // A simple serial reader has no way to show a decision: counted at the gateway and at central, not timed.
        this.outstanding.delete(p);
        this.answered++;
        void this.ends.serial.get(lane.device)!.present(serialPayload(arrival));
        break;
    }
  }

  private done(p: Pending, transport: Transport, result: 'granted' | 'denied', at: number): void {
    if (!this.outstanding.delete(p)) return;
    this.answered++;
    if (result === 'granted') this.granted++;
    else this.denied++;
    if ((result === 'granted') !== (p.arrival.expect === 'valid')) this.unexpected++;
    const ms = at - p.at;
    this.latencies.push({ transport, lane: this.lanes[p.arrival.lane]!.id, ms });
    (this.bySecond[Math.floor((p.at - this.t0) / 1000)] ??= []).push(ms);
  }

  /** OSDP feedback for a grant is OUT then LED; for a denial LED alone (drivers/osdp/driver.ts). */
  private onOsdpFeedback(key: string, f: SimFeedback): void {
    if (f.command === 'OUT') {
      const p = this.osdpPending.get(key)?.shift();
      if (p) this.done(p, 'osdp', 'granted', f.at);
      this.osdpSawOut.add(key);
    } else if (f.command === 'LED') {
      if (this.osdpSawOut.delete(key)) return;
      const p = this.osdpPending.get(key)?.shift();
      const color = (f.detail as { color?: string }).color;
      if (p) this.done(p, 'osdp', color !== undefined && GRANT_COLOURS.has(color) ? 'granted' : 'denied', f.at);
    }
  }

  /** The edge source reports the lane's outputs as `out NAME LEVEL` lines: the relay for a grant, the buzzer for a denial. */
  private listenWiegand(device: string, socket: Socket): void {
    const active = new Map<string, string>();
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const at = performance.now();
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const pending = queue(this.wiegandPending, device);
      for (const line of lines) {
        const m = /^out (\S+) ([01])$/.exec(line.trim());
        if (!m) continue;
        const [, name, level] = m as unknown as [string, string, string];
        // The first level seen after a card is the line's active level; its return to rest is not an answer.
        const was = active.get(name);
        if (was === undefined && pending.length === 0) {
          active.set(name, level === '1' ? '0' : '1');
          continue;
        }
        if (was === undefined) active.set(name, level);
        else if (was !== level) continue;
        const p = pending.shift();
        if (p) this.done(p, 'wiegand', name === 'buzzer' ? 'denied' : 'granted', at);
      }
    });
  }
}

function queue<K>(m: Map<K, Pending[]>, key: K): Pending[] {
  let q = m.get(key);
  if (!q) m.set(key, (q = []));
  return q;
}

/** What a serial scanner sends for a holder's card: digits only, so every payload encoding can carry it. */
export function serialPayload(card: { facility: number; card: number }): string {
  return String(card.facility * 100_000 + card.card);
}

/**
 * Gives every holder the credential each serial reader of the venue will
 * produce for its card (the reader's framing decides the value: hex of the
 * bytes, decimal, text), decoded with the driver's own decoder.
 */
export function addSerialCredentials(holders: EntitlementRecord[], readers: ReadonlyArray<{ framing: SerialFraming; kind: 'card' | 'barcode' }>): void {
  for (const h of holders) {
    const m = /^(\d+):(\d+)$/.exec(h.credentials[0]?.value ?? '');
    if (!m) continue;
    const payload = serialPayload({ facility: Number(m[1]), card: Number(m[2]) });
    for (const r of readers) {
      const frame = decodeSerialFrames(encodeSerialFrame(payload, r.framing), r.framing).frames[0];
      if (frame && !h.credentials.some((c) => c.kind === r.kind && c.value === frame.value)) h.credentials.push({ kind: r.kind, value: frame.value });
    }
  }
}
