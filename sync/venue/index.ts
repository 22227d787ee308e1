/** Several gateways, one venue: shared anti-passback and occupancy (issue #11); see docs/venue.md. */
export { createVenueLink, VENUE_CONFLICT_EVENT, type VenueLink, type VenueLinkOptions, type VenueLinkStatus, type LocalMovement } from './link.js';
export { VenueState, compareMovements, venueConflictWindows, type VenueConflict, type VenuePresence, type VenueStateOptions } from './merge.js';
export { decodeVenueMessage, encodeMove, encodeState, encodeSync, venueTopics, PROTOCOL_VERSION, type OriginSnapshot, type VenueMessage, type VenueMovement, type ZoneCounter } from './protocol.js';
export { VENUE_STATE_FILE } from './store.js';
