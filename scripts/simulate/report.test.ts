import { describe, expect, it } from 'vitest';
import { formatSummary, renderChart } from './report.js';
import type { SimulationSummary, TimelinePoint } from './simulate.js';

const point = (t: number, rate: number): TimelinePoint => ({ t, decisions_per_s: rate, lane_p99_ms: 40 + t, decision_p99_ms: 0.4, outbox_depth: 3, central_lag_p95_ms: 120, gateway_loop_p99_ms: 10, gateway_loop_busy_pct: 55, simulator_loop_p99_ms: 8, gateway_cpu_pct: 60, simulator_cpu_pct: 30, steal_pct: 0 });

const summary: SimulationSummary = {
  scenario: 'surge',
  seed: 10,
  entries: 100,
  pre_opening_entries: 0,
  seconds: 5,
  lanes: 3,
  lanes_by_transport: { osdp: 2, mqtt: 1 },
  decisions: 100,
  granted: 95,
  denied: 5,
  unanswered: 0,
  undecided: 0,
  unexpected: 0,
  decisions_per_s: 20,
  decision_p99_ms: 0.5,
  lane_p50_ms: 10,
  lane_p99_ms: 50,
  lane_p99_ms_by_transport: { osdp: 50, mqtt: 12 },
  lane_p99_ms_rest_of_venue: 31,
  hostile_lanes: ['n1'],
  central_lag_p95_ms: 150,
  central_lag_p95_ms_outside_outage: 150,
  access_events_at_central: 100,
  events_at_central: 130,
  lost: 0,
  duplicates_at_central: 0,
  rss_mb: 120,
  cpu_pct: 30,
  simulator_cpu_pct: 20,
  steal_pct: 0.3,
  slowest_lanes: [{ lane: 'n1', p99_ms: 50, count: 40 }],
  osdp_exchanges_per_s_per_bus: 300,
  gateway_loop_p99_ms: 10,
  simulator_loop_p99_ms: 8,
  sign_contents: 4,
  beacon_adverts: 50,
  kiosk_interactions: 5,
  app_sightings: 10,
  gateway_errors: { GH_MQTT_PAYLOAD: 12 },
  skipped_devices: [{ device: 'desk-hid', reason: 'the simulator has no hid device' }],
  timeline: [point(1, 900), point(2, 1000)],
};

describe('run report', () => {
  it('summarises the figures an operator asks for first, with errors and skipped devices', () => {
    const text = formatSummary(summary);
    expect(text).toContain('100 entries in 5 s over 3 lanes (2 osdp, 1 mqtt)');
    expect(text).toMatch(/lane p50 \/ p99 +10 ms \/ 50 ms/);
    expect(text).toContain('0 duplicates, 0 lost');
    expect(text).toContain('CPU stolen by the host 0.3 %');
    expect(text).toMatch(/rest of venue +lane p99 31 ms \(without n1,/);
    expect(formatSummary({ ...summary, hostile_lanes: [] })).not.toContain('rest of venue');
    expect(text).toContain('GH_MQTT_PAYLOAD x12');
    expect(text).toContain('not simulated    desk-hid');
    expect(formatSummary({ ...summary, decision_p99_ms: -1, gateway_errors: {}, skipped_devices: [], slowest_lanes: [] })).toMatch(/decision p99 +n\/a/);
  });

  it('draws one bar per second and one line per latency series, escaping the title', () => {
    const svg = renderChart(summary.timeline, 'surge <60 s>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('surge &lt;60 s&gt;');
    expect(svg.match(/class="bar"/g)).toHaveLength(2);
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(renderChart([], 'empty')).toContain('</svg>');
  });
});
