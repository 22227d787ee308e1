/** Content for a sign (docs/mqtt.md `…/content`). */
export interface SignContent {
  /** Stable id of this delivery, echoed in the sign's ack. */
  contentId: string;
  /** Named content the sign knows how to show (template / playlist item). */
  content: string;
  durationMs: number;
  priority: number;
  /** Template variables; only personal when the holder consented. */
  vars?: Record<string, string>;
  ruleId?: string;
  holderRef?: string;
}

/** How the rules engine reaches signs. Implemented by the MQTT bus driver (drivers/mqtt). */
export interface ContentPublisher {
  /** Returns false when the sign is unknown or offline (the rule logs it as not delivered). */
  send(signId: string, content: SignContent): boolean;
}
