import type { Alarm, CredentialRead, Decision, DeviceStatus } from '../core/types.js';

/**
 * Topics of the in-process bus and their payloads. A module that adds a topic
 * adds it here, so every subscriber is type-checked against the publisher.
 */
export interface BusTopics {
  /** A reader presented a credential. */
  credential: CredentialRead;
  /** The access engine decided (after the reader got its answer). */
  decision: Decision & { deviceId: string; reader?: string; monoIn: number; monoOut: number };
  /** A device or a reader on a bus changed state. */
  'device.status': DeviceStatus;
  /** An alarm was raised or cleared. */
  alarm: Alarm;
  /** A turnstile rotation/door sensor confirmed a passage on a lane (or none followed a grant). */
  passage: { laneId: string; holderRef?: string; used: boolean; at: number };
  /** A kiosk reported an interaction. */
  interaction: { deviceId: string; holderRef?: string; item: string; action: string; at: number; data?: Record<string, unknown> };
  /** A BLE sighting: a beacon heard by our radio or reported by a phone. */
  sighting: { observer: string; beacon: string; rssi: number; txPower?: number; holderRef?: string; at: number; monoAt: number };
  /** A sign acknowledged content. */
  'signage.ack': { deviceId: string; contentId: string; status: 'shown' | 'skipped'; holderRef?: string; ruleId?: string; at: number };
}

export type BusTopic = keyof BusTopics;
export type BusListener<K extends BusTopic> = (payload: BusTopics[K]) => void;

/**
 * A typed, synchronous in-process event bus. Dispatch is synchronous so a
 * publisher knows every subscriber ran; a subscriber that throws is reported
 * through `onError` and never stops the others (one bad consumer must not
 * break the card-read path).
 */
export class Bus {
  private readonly listeners = new Map<BusTopic, Set<BusListener<BusTopic>>>();

  constructor(private readonly onError: (topic: BusTopic, err: unknown) => void = () => {}) {}

  on<K extends BusTopic>(topic: K, listener: BusListener<K>): () => void {
    let set = this.listeners.get(topic);
    if (!set) {
      set = new Set();
      this.listeners.set(topic, set);
    }
    set.add(listener as BusListener<BusTopic>);
    return () => {
      set.delete(listener as BusListener<BusTopic>);
    };
  }

  emit<K extends BusTopic>(topic: K, payload: BusTopics[K]): void {
    const set = this.listeners.get(topic);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch (err) {
        this.onError(topic, err);
      }
    }
  }

  listenerCount(topic: BusTopic): number {
    return this.listeners.get(topic)?.size ?? 0;
  }
}
