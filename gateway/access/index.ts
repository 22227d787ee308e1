/** The access engine and entitlement store (issue #3); see docs/access.md. */
export { createAccessEngine, type AccessEngine, type AccessEngineOptions } from './engine.js';
export { openEntitlementStore, currentEntitlementsFile, ENTITLEMENTS_FILE, POINTER_FILE, type EntitlementStore, type EntitlementStoreOptions, type EntitlementStoreStatus, type EndedTicketEvent } from './store.js';
export { REASONS, REASON_CODES, type ReasonCode } from './reasons.js';
export { credentialProblem, hashCredential, MIN_KEY_BYTES, MAX_CREDENTIAL_LENGTH } from './credential.js';
export { STATE_FILE, type Movement } from './state.js';
export type { EntitlementChange, EntitlementRecord, EntitlementSink } from './model.js';
export type { StoredEntitlement, CompiledEntitlement } from './entitlement.js';
