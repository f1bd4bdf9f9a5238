// Renders cycle makespan vs number of projects (sequential loop, orchestrate's cycle, ideal) from a bench
// results file to SVG with Vega-Lite, and, when the run has a scale phase, the cost per project against the
// cycle's size next to it (<out>-scale.svg). ESM because vega and vega-lite are ESM-only.
// Usage: node bench/plot.mjs bench/results/full.json bench/results/makespan.svg
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node bench/plot.mjs <results.json> <out.svg>\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(input, 'utf8'));
const points = results.p2?.plot ?? [];
if (!points.length && !results.scale?.length) {
  process.stderr.write(`${input} has no p2.plot points and no scale phase: run the bench with p2 or --scale\n`);
  process.exit(2);
}

async function render(spec, out) {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  writeFileSync(out, await view.toSVG());
  view.finalize();
}

if (results.scale?.length) {
  const scaleValues = results.scale.flatMap((x) => [
    { projects: x.projects, ms: x.msPerProject, series: 'cycle wall time per project' },
    { projects: x.projects, ms: x.serverCpuMsPerProject, series: 'dev server CPU per project' },
  ]);
  await render(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Cost per project vs cycle size (instant fake-agent jobs, concurrency 20)',
        subtitle: `${results.machine?.cpus ?? '?'} CPUs, Node ${results.machine?.node ?? '?'}; ${results.startedAt?.slice(0, 10) ?? ''}`,
      },
      width: 560,
      height: 300,
      background: 'white',
      data: { values: scaleValues },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'projects', type: 'quantitative', scale: { type: 'log' }, title: 'projects in the cycle (log)' },
        y: { field: 'ms', type: 'quantitative', title: 'ms per project' },
        color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top-left' } },
        tooltip: [{ field: 'series' }, { field: 'projects' }, { field: 'ms' }],
      },
    },
    output.replace(/\.svg$/, '') + '-scale.svg',
  );
}
if (!points.length) process.exit(0);
const { concurrency, jobSeconds } = points[0];

const SEQ = 'sequential loop (seed)';
const SEQ_X = 'sequential loop (extrapolated)';
const OURS = `orchestrate cycle (concurrency ${concurrency})`;
const POOL = `bare pool of ${concurrency} processes (no orchestration)`;
const IDEAL = `ideal: ceil(N / ${concurrency}) × ${jobSeconds} s`;
const values = [];
for (const p of points) {
  values.push({ projects: p.projects, seconds: p.oursS, series: OURS });
  if (p.poolS !== undefined) values.push({ projects: p.projects, seconds: p.poolS, series: POOL });
  values.push({ projects: p.projects, seconds: p.idealS, series: IDEAL });
  values.push({ projects: p.projects, seconds: p.sequentialS, series: p.sequentialMeasured ? SEQ : SEQ_X });
}
// The extrapolated segment starts at the last measured point, so the sequential line stays continuous.
const measured = points.filter((p) => p.sequentialMeasured);
if (measured.length && measured.length < points.length) {
  const last = measured[measured.length - 1];
  values.push({ projects: last.projects, seconds: last.sequentialS, series: SEQ_X });
}
const series = [SEQ, SEQ_X, OURS, POOL, IDEAL].filter((s) => values.some((v) => v.series === s));
const colours = { [SEQ]: '#d62728', [SEQ_X]: '#d62728', [OURS]: '#1f77b4', [POOL]: '#2ca02c', [IDEAL]: '#7f7f7f' };
const dashes = { [SEQ]: [1, 0], [SEQ_X]: [6, 4], [OURS]: [1, 0], [POOL]: [4, 2], [IDEAL]: [2, 3] };

const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: {
    text: `Cycle makespan vs number of projects (${jobSeconds} s fake-agent jobs)`,
    subtitle: `${results.machine?.cpus ?? '?'} CPUs, Node ${results.machine?.node ?? '?'}, real Temporal dev server; ${results.startedAt?.slice(0, 10) ?? ''}`,
  },
  width: 560,
  height: 340,
  background: 'white',
  config: { legend: { labelLimit: 0, symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2 } },
  data: { values },
  mark: { type: 'line', point: true, strokeWidth: 2 },
  encoding: {
    x: {
      field: 'projects',
      type: 'quantitative',
      title: 'projects in the cycle',
      axis: { values: points.map((p) => p.projects) },
    },
    y: { field: 'seconds', type: 'quantitative', title: 'makespan (s)' },
    color: {
      field: 'series',
      type: 'nominal',
      title: null,
      scale: { domain: series, range: series.map((s) => colours[s]) },
      legend: { orient: 'top-left' },
    },
    strokeDash: {
      field: 'series',
      type: 'nominal',
      title: null,
      scale: { domain: series, range: series.map((s) => dashes[s]) },
    },
    tooltip: [{ field: 'series' }, { field: 'projects' }, { field: 'seconds' }],
  },
};

await render(spec, output);
