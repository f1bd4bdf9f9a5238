// Preloaded by P5 (`node -r`): writes this process's CPU use (process.resourceUsage(), µs) to
// $BENCH_CPU_REPORT when it exits.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const out = process.env.BENCH_CPU_REPORT;
  if (out) writeFileSync(out, JSON.stringify(process.resourceUsage()));
});
