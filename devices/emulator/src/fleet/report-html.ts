import type { FleetReport, FleetTimelinePoint } from './fleet-runner.js';

const WIDTH = 760;
const HEIGHT = 200;
const PAD = { left: 56, right: 16, top: 16, bottom: 28 };
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

interface Series {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One line chart as inline SVG: no script, no network, opens anywhere. */
function lineChart(
  title: string,
  unit: string,
  times: readonly number[],
  series: readonly Series[],
  events: FleetReport['events'],
): string {
  const maxT = Math.max(1, ...times);
  const maxY = Math.max(1, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const x = (t: number) => PAD.left + (t / maxT) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => HEIGHT - PAD.bottom - (v / maxY) * (HEIGHT - PAD.top - PAD.bottom);
  const lines = series.map((s, i) => {
    const points = s.values.flatMap((v, j) =>
      v === null || times[j] === undefined ? [] : [`${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`],
    );
    return `<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5" points="${points.join(' ')}"/>`;
  });
  const marks = events.map(
    (e) =>
      `<line x1="${x(e.t).toFixed(1)}" x2="${x(e.t).toFixed(1)}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="#888" stroke-dasharray="4 3"><title>${escapeHtml(e.event)}</title></line>`,
  );
  const legend = series
    .map((s, i) => `<span style="color:${COLOURS[i % COLOURS.length]}">■</span> ${escapeHtml(s.label)}`)
    .join('&nbsp;&nbsp;');
  return `<figure>
<figcaption><strong>${escapeHtml(title)}</strong> (${escapeHtml(unit)}) &nbsp; ${legend}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">
<line x1="${PAD.left}" y1="${HEIGHT - PAD.bottom}" x2="${WIDTH - PAD.right}" y2="${HEIGHT - PAD.bottom}" stroke="#333"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${HEIGHT - PAD.bottom}" stroke="#333"/>
<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end" font-size="11">${Math.round(maxY)}</text>
<text x="${PAD.left - 6}" y="${HEIGHT - PAD.bottom}" text-anchor="end" font-size="11">0</text>
<text x="${WIDTH - PAD.right}" y="${HEIGHT - 8}" text-anchor="end" font-size="11">${maxT.toFixed(0)} s</text>
${marks.join('\n')}
${lines.join('\n')}
</svg></figure>`;
}

/** The fleet report as one self-contained HTML page: summary, throughput, latency and errors over time. */
export function renderFleetReportHtml(report: FleetReport): string {
  const { timeline, events } = report;
  const t = timeline.map((p) => p.t);
  const pick = (f: (p: FleetTimelinePoint) => number | null) => timeline.map(f);
  const rows: Array<[string, string | number | null]> = [
    ['Scenario', report.scenario],
    ['Devices connected', `${report.devicesConnected}/${report.devices}`],
    ['Devices attested', `${report.devicesAttested}/${report.devices}`],
    ['Attestation failures', report.attestationFailures],
    ['Published / acknowledged', `${report.published} / ${report.acknowledged}`],
    ['Unacknowledged at the end', report.unacknowledged],
    ['Acknowledged per second', report.acknowledgedPerSecond],
    ['Ack latency p50 / p95 / p99 (ms)', `${report.ackLatencyMs.p50} / ${report.ackLatencyMs.p95} / ${report.ackLatencyMs.p99}`],
    ['Reconnects', report.reconnects],
    ['Reboots', report.reboots],
    ['Failure reports sent', report.failureReportsSent],
    ['Duration (s)', (report.durationMs / 1000).toFixed(1)],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rampart fleet report — ${escapeHtml(report.scenario)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#111}table{border-collapse:collapse}td{padding:3px 12px 3px 0}figure{margin:18px 0}li{margin:2px 0}</style>
</head><body>
<h1>Fleet report: ${escapeHtml(report.scenario)}</h1>
<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td><strong>${escapeHtml(String(v))}</strong></td></tr>`).join('')}</table>
${events.length === 0 ? '' : `<h2>Events</h2><ul>${events.map((e) => `<li>${e.t.toFixed(1)} s — ${escapeHtml(e.event)}</li>`).join('')}</ul>`}
${lineChart('Throughput', 'readings acknowledged per second', t, [{ label: 'acknowledged/s', values: pick((p) => p.acknowledged) }], events)}
${lineChart(
  'Latency',
  'publish → PUBACK, ms',
  t,
  [
    { label: 'p50', values: pick((p) => p.p50Ms) },
    { label: 'p99', values: pick((p) => p.p99Ms) },
  ],
  events,
)}
${lineChart(
  'Devices',
  'count',
  t,
  [
    { label: 'online', values: pick((p) => p.online) },
    { label: 'attested', values: pick((p) => p.attested) },
  ],
  events,
)}
${lineChart(
  'Errors',
  'per second',
  t,
  [
    { label: 'reconnects', values: pick((p) => p.reconnects) },
    { label: 'attestation failures', values: pick((p) => p.attestationFailures) },
    { label: 'failure reports', values: pick((p) => p.failureReports) },
  ],
  events,
)}
</body></html>
`;
}
