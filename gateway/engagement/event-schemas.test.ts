import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_CATALOGUE, EVENT_TYPES, GENERATED_BEGIN, GENERATED_END, dataJsonSchema, renderEventCatalogue } from './event-schemas.js';

describe('event catalogue', () => {
  const docs = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');

  it('docs/events.md carries exactly the generated schemas (regenerate with writeEventsDoc, see the page)', () => {
    const begin = docs.indexOf(GENERATED_BEGIN);
    const end = docs.indexOf(GENERATED_END);
    expect(begin).toBeGreaterThanOrEqual(0);
    expect(docs.slice(begin, end + GENERATED_END.length)).toBe(renderEventCatalogue());
  });

  it('lists every event type once, each with a strict object schema for its data', () => {
    const types = EVENT_CATALOGUE.map((s) => s.type);
    expect(new Set(types).size).toBe(types.length);
    expect([...types].sort()).toEqual(Object.values(EVENT_TYPES).sort());
    for (const spec of EVENT_CATALOGUE) {
      expect(spec.type).toMatch(/^io\.gatehouse\.[a-z]+\.[a-z]+$/);
      expect(dataJsonSchema(spec)).toMatchObject({ type: 'object', additionalProperties: false });
    }
  });

  it('accepts the access event the composition root makes and rejects unknown keys', () => {
    const spec = EVENT_CATALOGUE.find((s) => s.type === EVENT_TYPES.accessGranted)!;
    const data = { lane: 'in-1', zone: 'main', direction: 'in', reason: 'ok', flags: { offline: true }, device: 'osdp-1', reader: '0' };
    expect(spec.data.safeParse(data).success).toBe(true);
    expect(spec.data.safeParse({ ...data, cardNumber: '123' }).success).toBe(false);
  });
});
