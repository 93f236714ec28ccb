/**
 * crashwork [ROUNDS=6]: the file-writing workload of the crash-consistency test. Round v (1..ROUNDS)
 * rewrites cw0..cw3 with version v, each with open(O_TRUNC), one write of at most 32 KiB and
 * close (atomic: the store promises the old or the new content), and creates then unlinks `cwtmp`.
 * The test stops it at many instruction counts and boots crashcheck on the same disk.
 */
import { O_CREATE, O_TRUNC, O_WRONLY } from '../syscall-abi.ts';
import { benchCount } from './lib/bench.ts';
import { printNum, println, print } from './lib/io.ts';
import { close, open, openb, unlink, write } from './lib/sys.ts';
import { FILES, fillVersion, name, setName } from './lib/versioned.ts';

const buf = new Uint8Array(32768);

export function main(): number {
  const rounds = benchCount('crashwork', 6, 1000);
  if (rounds < 0) return 2;
  for (let v = 1; v <= rounds; v++) {
    for (let i = 0; i < FILES; i++) {
      setName(i);
      const fd = openb(name, 0, 3, O_WRONLY | O_CREATE | O_TRUNC);
      if (fd < 0) return 1;
      const n = fillVersion(buf, i, v);
      if (write(fd, buf, n) !== n) return 1;
      close(fd);
    }
    const t = open('cwtmp', O_WRONLY | O_CREATE);
    if (t < 0) return 1;
    close(t);
    if (unlink('cwtmp') < 0) return 1;
  }
  print('crashwork: ');
  printNum(rounds);
  println(' rounds');
  return 0;
}
