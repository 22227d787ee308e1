import type { EntitlementStore } from '../access/index.js';
import type { HolderDirectory, TicketDirectory } from '../engagement/index.js';

/**
 * Engagement's view of holders and tickets, backed by the entitlement store.
 * Lookups are prepared-statement reads; nothing here touches the decision path.
 */
export function storeHolderDirectory(store: () => EntitlementStore): HolderDirectory {
  return {
    get(holderRef) {
      const h = store().holder(holderRef);
      if (!h) return undefined;
      return {
        ...(h.tier !== undefined ? { tier: h.tier } : {}),
        consent: { personalisation: h.consent?.personalisation === true },
        ...(h.displayName !== undefined && h.consent?.personalisation === true ? { displayName: h.displayName } : {}),
        attributes: { vip: h.vip === true },
      };
    },
  };
}

export function storeTicketDirectory(store: () => EntitlementStore): TicketDirectory {
  return {
    eventsEndedBetween: (afterMs, untilMs) => store().ticketEventsEndedBetween(afterMs, untilMs),
  };
}
