// Replays one Rollout plan from plain data and prints it (actions, status, requeue) as JSON:
//   node scripts/replay-plan.ts FILE       a {"observed": …, "now": …} file, e.g. a golden case
//   node scripts/replay-plan.ts - < LOG    the controller's trace-level "Observed" log lines
//                                          (--log-level trace); every line is replayed
import { readFileSync } from 'node:fs';
import { replayPlan } from '../src/core/rollout/replay.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/replay-plan.ts FILE|-');
  process.exit(3);
}
const text = readFileSync(file === '-' ? 0 : file, 'utf8');
// A whole JSON document, or JSON lines (pino output) of which the "Observed" ones are inputs.
let inputs: unknown[];
try {
  inputs = [JSON.parse(text)];
} catch {
  inputs = text
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string })
    .filter((line) => line.msg === 'Observed');
}
if (inputs.length === 0) {
  console.error('no plan input found (expected {"observed", "now"}, or log lines with msg "Observed")');
  process.exit(1);
}
let failed = false;
for (const input of inputs) {
  const result = replayPlan(input);
  if (result.ok) console.log(JSON.stringify(result.value, null, 2));
  else {
    console.error(result.error);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
