/**
 * What engagement needs to know about holders and tickets. The composition
 * root backs these with the entitlement store (gateway/access); tests use fakes.
 */

export interface HolderInfo {
  tier?: string;
  /** Without `personalisation`, events are pseudonymised and no personalised content is triggered. */
  consent: { personalisation: boolean };
  /** Only ever used in sign content of personalised rules, and only with consent; never put in events. */
  displayName?: string;
  /** Further attributes rules may match (`when.attributes`). */
  attributes?: Record<string, string | number | boolean>;
}

export interface HolderDirectory {
  /** The holder's attributes, or undefined for an unknown ref. Called on the engagement path: must be a cheap in-memory or prepared-statement lookup. */
  get(holderRef: string): HolderInfo | undefined;
  /** The holder whose phone or wristband advertises as this beacon key (`ibeacon:<uuid>:<major>:<minor>`), when known. */
  byBeacon?(beaconKey: string): string | undefined;
}

/** A ticketed event whose window has closed, with the holders of its tickets. */
export interface ClosedTicketEvent {
  eventId: string;
  /** Wall-clock ms. */
  start: number;
  end: number;
  holders: string[];
}

export interface TicketDirectory {
  /** Ticketed events whose end lies in (`afterMs`, `untilMs`]. */
  eventsEndedBetween(afterMs: number, untilMs: number): ClosedTicketEvent[];
}
