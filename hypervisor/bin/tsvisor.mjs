#!/usr/bin/env node
// The `tsvisor` executable: load TypeScript through tsx, then hand over to hypervisor/cli.ts.
import { register } from 'tsx/esm/api';

// A reader that goes away (`tsvisor disasm x.img | head`) is not an error of ours: stop quietly
// with the status already decided, as cat and git do, instead of printing EPIPE's stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit();
  });
}

register();
const { main } = await import('../cli.ts');
process.exitCode = await main(process.argv.slice(2));
