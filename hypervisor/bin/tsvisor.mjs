#!/usr/bin/env node
// The `tsvisor` executable: load TypeScript through tsx, then hand over to hypervisor/cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli.ts');
process.exitCode = main(process.argv.slice(2));
