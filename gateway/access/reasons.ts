/**
 * Stable reason codes of access decisions (docs/access.md). They appear in
 * decision events, logs and the `reason` label of gatehouse_decisions_total:
 * never rename one once released, only add.
 */
export const REASONS = {
  granted: 'The entitlement allows this lane now.',
  unknown_credential: 'No holder has this credential.',
  invalid_credential: 'The credential was empty, too long, had bytes no reader sends or a malformed format.',
  expired: 'The entitlement\'s validity window has ended.',
  not_yet_valid: 'The entitlement\'s validity window has not started.',
  blocked: 'The holder is blocked or suspended.',
  wrong_zone: 'The holder has no right to the lane\'s zone.',
  wrong_lane: 'The holder is restricted to other lanes.',
  outside_schedule: 'The holder\'s weekly schedule does not cover this time.',
  holiday: 'Today is a holiday in the holder\'s schedule.',
  entry_limit: 'The holder used all entries allowed (ticket already used, or daily limit reached).',
  anti_passback: 'Anti-passback: no exit since the last entry (hard), or re-entry too soon (timed).',
  occupancy_full: 'The zone is at its capacity.',
  fail_open: 'The entitlement cache is missing, corrupt or stale and the lane fails open.',
  fail_closed: 'The entitlement cache is missing, corrupt or stale and the lane fails closed.',
  unknown_lane: 'The decision was asked for a lane that is not configured.',
} as const;

export type ReasonCode = keyof typeof REASONS;

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];
