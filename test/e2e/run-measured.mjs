// Runs the tsvisor CLI in this process, then prints the process's peak resident memory as the
// last line on stderr ("maxrss-kib N"): the bound a hostile guest must not push the host past.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../../hypervisor/cli.ts');
const code = await main(process.argv.slice(2));
process.stderr.write(`maxrss-kib ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
