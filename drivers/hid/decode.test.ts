import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WedgeDecoder, parseBootReport, typeReports, usageChar } from './decode.js';

const r = (...bytes: number[]) => Buffer.from(bytes);
const decoder = () => new WedgeDecoder({ interKeyTimeoutMs: 200, maxLength: 16 });
const feed = (d: WedgeDecoder, reports: readonly Uint8Array[], stepMs = 4, t0 = 0) => reports.flatMap((rep, i) => d.report(rep, t0 + i * stepMs));

describe('boot keyboard reports', () => {
  it('maps digit, letter and keypad usages', () => {
    expect(usageChar(0x1e, false)).toBe('1');
    expect(usageChar(0x27, false)).toBe('0');
    expect(usageChar(0x04, false)).toBe('a');
    expect(usageChar(0x1d, true)).toBe('Z');
    expect(usageChar(0x59, false)).toBe('1');
    expect(usageChar(0x62, false)).toBe('0');
    expect(usageChar(0x2c, false)).toBeUndefined();
  });

  it('rejects reports of the wrong size and error-rollover reports', () => {
    expect(parseBootReport(r(0, 0, 0x1e))).toMatchObject({ ok: false });
    expect(parseBootReport(r(0, 0, 1, 1, 1, 1, 1, 1))).toMatchObject({ ok: false, detail: expect.stringContaining('0x01') });
    expect(parseBootReport(r(2, 0, 0x04, 0, 0x05, 0, 0, 0))).toEqual({ ok: true, modifiers: 2, usages: [0x04, 0x05] });
  });
});

describe('WedgeDecoder', () => {
  it('decodes the report sequence a wedge reader sends for "0004213377" + Enter', () => {
    // Boot keyboard reports as read from /dev/hidraw: a press report with the usage, then an all-zero release, per key.
    const capture = ['27', '27', '27', '21', '1f', '1e', '20', '20', '24', '24', '28'].flatMap((u) => [r(0, 0, parseInt(u, 16), 0, 0, 0, 0, 0), r(0, 0, 0, 0, 0, 0, 0, 0)]);
    expect(feed(decoder(), capture)).toEqual([{ kind: 'credential', value: '0004213377' }]);
  });

  it('round-trips any typed alphanumeric string, with or without keypad usages', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9A-Za-z]{1,16}$/), fc.boolean(), (text, keypad) => {
      const typed = keypad ? text.replace(/[^0-9]/g, '') || '7' : text;
      expect(feed(decoder(), typeReports(typed, { keypad }))).toEqual([{ kind: 'credential', value: typed }]);
    }));
  });

  it('does not type a key twice while it is held across reports (rollover)', () => {
    const events = feed(decoder(), [r(0, 0, 0x1e, 0, 0, 0, 0, 0), r(0, 0, 0x1e, 0x1f, 0, 0, 0, 0), r(0, 0, 0x1f, 0, 0, 0, 0, 0), r(0, 0, 0, 0, 0, 0, 0, 0), r(0, 0, 0x28, 0, 0, 0, 0, 0)]);
    expect(events).toEqual([{ kind: 'credential', value: '12' }]);
  });

  it('rejects a credential containing an unexpected usage and recovers for the next one', () => {
    const bad = [...typeReports('12', { enter: false }), r(0, 0, 0x2c, 0, 0, 0, 0, 0), r(0, 0, 0, 0, 0, 0, 0, 0), ...typeReports('34')];
    const events = feed(decoder(), [...bad, ...typeReports('56')]);
    expect(events).toEqual([
      { kind: 'bad_report', detail: 'unexpected usage 0x2c' },
      { kind: 'discarded', reason: 'spoiled', length: 2 },
      { kind: 'credential', value: '56' },
    ]);
  });

  it('rejects malformed reports and spoils the credential in progress', () => {
    const events = feed(decoder(), [...typeReports('12', { enter: false }), r(0, 0, 0x1e), ...typeReports('3')]);
    expect(events[0]).toMatchObject({ kind: 'bad_report' });
    expect(events.filter((e) => e.kind === 'credential')).toEqual([]);
  });

  it('drops digits older than the inter-key timeout', () => {
    const d = decoder();
    const events = [...feed(d, typeReports('99', { enter: false }), 4, 0), ...feed(d, typeReports('123'), 4, 10_000)];
    expect(events).toEqual([{ kind: 'discarded', reason: 'timeout', length: 2 }, { kind: 'credential', value: '123' }]);
  });

  it('discards input longer than maxLength', () => {
    const events = feed(decoder(), typeReports('1'.repeat(20)));
    expect(events).toEqual([{ kind: 'discarded', reason: 'too_long', length: 17 }, { kind: 'discarded', reason: 'spoiled', length: 0 }]);
  });

  it('never throws and never yields a credential with characters a reader does not type', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 10 }), { maxLength: 60 }), (reports) => {
      const d = decoder();
      for (const e of feed(d, reports)) if (e.kind === 'credential') expect(e.value).toMatch(/^[0-9A-Za-z]{1,16}$/);
    }));
  });

  it('refuses to type characters no wedge reader sends', () => {
    expect(() => typeReports('1-2')).toThrow(RangeError);
  });
});
