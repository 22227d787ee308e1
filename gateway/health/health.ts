/**
 * The gateway's health as a set of named conditions. `/healthz` answers 200
 * while none is failing and 503 with the reasons otherwise; warnings show on
 * the status page but do not fail the probe.
 */
export type HealthLevel = 'ok' | 'warn' | 'fail';

export interface HealthCondition {
  component: string;
  level: HealthLevel;
  reason?: string;
  /** Stable error code when the condition comes from an error. */
  code?: string;
  since: number;
}

export class Health {
  private readonly conditions = new Map<string, HealthCondition>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the current state of one component; `ok` clears a previous problem. */
  set(component: string, level: HealthLevel, reason?: string, code?: string): void {
    const prev = this.conditions.get(component);
    if (level === 'ok') {
      this.conditions.delete(component);
      return;
    }
    if (prev && prev.level === level && prev.reason === reason) return;
    this.conditions.set(component, { component, level, ...(reason ? { reason } : {}), ...(code ? { code } : {}), since: prev?.since ?? this.now() });
  }

  snapshot(): { status: 'ok' | 'degraded'; failing: HealthCondition[]; warnings: HealthCondition[] } {
    const all = [...this.conditions.values()];
    const failing = all.filter((c) => c.level === 'fail');
    return { status: failing.length > 0 ? 'degraded' : 'ok', failing, warnings: all.filter((c) => c.level === 'warn') };
  }
}
