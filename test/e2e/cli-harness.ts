/** The `tsvisor` command run in-process, as the e2e and vmm tests drive it. */
import { main } from '../../hypervisor/cli.ts';

/** Run the CLI in this process, capturing stdout and stderr as text. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}
