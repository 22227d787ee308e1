import type { SimulationSummary, TimelinePoint } from './simulate.js';

const fmt = (n: number, unit: string) => (n < 0 ? 'n/a' : `${n} ${unit}`);

/** The end-of-run summary for a terminal. */
export function formatSummary(s: SimulationSummary): string {
  const byTransport = Object.entries(s.lanes_by_transport)
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');
  const laneP99 = Object.entries(s.lane_p99_ms_by_transport)
    .map(([t, ms]) => `${t} ${ms} ms`)
    .join(', ');
  const lines = [
    '',
    `Simulation "${s.scenario}" (seed ${s.seed}): ${s.entries} entries in ${s.seconds} s over ${s.lanes} lanes (${byTransport})`,
    `  decisions        ${s.decisions} (${s.granted} granted, ${s.denied} denied at the devices; ${s.unanswered} unanswered, ${s.undecided} never decided; ${s.unexpected} not as the crowd model expected)`,
    `  decisions/s      ${s.decisions_per_s}`,
    `  decision p99     ${fmt(s.decision_p99_ms, 'ms')} (inside the gateway)`,
    `  lane p50 / p99   ${fmt(s.lane_p50_ms, 'ms')} / ${fmt(s.lane_p99_ms, 'ms')} (card at the device -> decision back at it; ${laneP99})`,
    ...(s.hostile_lanes.length > 0 ? [`  rest of venue    lane p99 ${fmt(s.lane_p99_ms_rest_of_venue, 'ms')} (without ${s.hostile_lanes.join(', ')}, hit by the hostile traffic)`] : []),
    `  central lag p95  ${fmt(s.central_lag_p95_ms, 'ms')} (event time -> stored at central; ${fmt(s.central_lag_p95_ms_outside_outage, 'ms')} for events made while central was up)`,
    `  central          ${s.access_events_at_central} access events, ${s.events_at_central} events in all, ${s.duplicates_at_central} duplicates, ${s.lost} lost`,
    `  gateway          peak RSS ${s.rss_mb} MiB, CPU ${s.cpu_pct} % of one core (simulator ${s.simulator_cpu_pct} %), loop delay p99 ${s.gateway_loop_p99_ms} ms, CPU stolen by the host ${s.steal_pct} %`,
  ];
  lines.push(`  venue life       ${s.beacon_adverts} beacon adverts, ${s.app_sightings} app sightings, ${s.kiosk_interactions} kiosk interactions, ${s.sign_contents} sign contents shown`);
  if (s.slowest_lanes.length > 0) lines.push(`  slowest lanes    ${s.slowest_lanes.map((l) => `${l.lane} ${l.p99_ms} ms`).join(', ')}`);
  const errors = Object.entries(s.gateway_errors);
  if (errors.length > 0) lines.push(`  gateway errors   ${errors.map(([c, n]) => `${c} x${n}`).join(', ')}`);
  if (s.skipped_devices.length > 0) lines.push(`  not simulated    ${s.skipped_devices.map((d) => d.device).join(', ')} (${s.skipped_devices[0]!.reason})`);
  return lines.join('\n') + '\n';
}

/**
 * An SVG chart of a run: decisions/s (bars, left axis) and lane p99,
 * decision p99 x100 and central lag p95 /10 (lines, right axis, ms) per second.
 */
export function renderChart(timeline: readonly TimelinePoint[], title: string): string {
  const W = 900;
  const H = 420;
  const m = { l: 60, r: 70, t: 40, b: 70 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const n = Math.max(1, timeline.length);
  const maxRate = Math.max(100, ...timeline.map((p) => p.decisions_per_s));
  const rateTop = Math.ceil(maxRate / 400) * 400;
  const series: Array<{ name: string; color: string; value: (p: TimelinePoint) => number }> = [
    { name: 'lane p99 (ms)', color: '#d62728', value: (p) => p.lane_p99_ms },
    { name: 'decision p99 x100 (ms)', color: '#2ca02c', value: (p) => p.decision_p99_ms * 100 },
    { name: 'central lag p95 / 10 (ms)', color: '#9467bd', value: (p) => p.central_lag_p95_ms / 10 },
  ];
  const maxMs = Math.max(100, ...timeline.flatMap((p) => series.map((s) => s.value(p)).filter((v) => v >= 0)));
  const msTop = Math.ceil(maxMs / 200) * 200;
  const x = (i: number) => m.l + (i + 0.5) * (pw / n);
  const yRate = (v: number) => m.t + ph - (v / rateTop) * ph;
  const yMs = (v: number) => m.t + ph - (Math.min(v, msTop) / msTop) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const y = m.t + (ph * k) / 4;
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" fill="#1f77b4">${Math.round(rateTop * (1 - k / 4))}</text>`);
    out.push(`<text x="${m.l + pw + 6}" y="${y + 4}" fill="#444">${Math.round(msTop * (1 - k / 4))}</text>`);
  }
  const bw = Math.max(1, (pw / n) * 0.8);
  timeline.forEach((p, i) => {
    out.push(`<rect x="${(x(i) - bw / 2).toFixed(1)}" y="${yRate(p.decisions_per_s).toFixed(1)}" width="${bw.toFixed(1)}" height="${(m.t + ph - yRate(p.decisions_per_s)).toFixed(1)}" fill="#aec7e8" class="bar"/>`);
  });
  for (const s of series) {
    const pts = timeline.map((p, i) => [x(i), s.value(p)] as const).filter(([, v]) => v >= 0);
    if (pts.length > 0) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([px, v]) => `${px.toFixed(1)},${yMs(v).toFixed(1)}`).join(' ')}"/>`);
  }
  const step = Math.max(1, Math.ceil(n / 15));
  for (let i = 0; i < n; i += step) out.push(`<text x="${x(i).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${timeline[i]?.t ?? i + 1}</text>`);
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">seconds into the run</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f77b4">decisions/s (bars)</text>`);
  out.push(`<text transform="translate(${W - 14} ${m.t + ph / 2}) rotate(90)" text-anchor="middle" fill="#444">milliseconds (lines)</text>`);
  const legend = [{ name: 'decisions/s', color: '#aec7e8' }, ...series];
  legend.forEach((s, i) => {
    const lx = m.l + i * 200;
    out.push(`<rect x="${lx}" y="${H - 18}" width="14" height="8" fill="${s.color}"/><text x="${lx + 18}" y="${H - 10}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
