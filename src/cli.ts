#!/usr/bin/env node
// `orchestrate`, the bin entry: runs the CLI (src/cli/main.ts) and exits with its code.
import { main } from './cli/main';

export { main };

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
    // Exit once stdout has drained (a piped --json result must never be cut short), even if a library left a
    // handle open.
    process.stdout.write('', () => process.exit());
  });
}
