/** String printing: literals, escapes, a string constant, println and putc. */
import { print, println, putc } from '../lib/console.ts';

const GREETING = 'Hello from a TypeScript guest!';

export function main(): number {
  println(GREETING);
  print('tabs\tand "quotes" and \\backslashes\\');
  putc(10);
  println(`a template literal without substitutions`);
  println('');
  putc(33);
  putc(10);
  return 0;
}
