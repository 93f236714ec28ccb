/**
 * The values of the CLI's flags, checked in one place: each parser takes what parseArgs gave
 * (a string, a boolean or nothing) and returns the value or throws a FlagError whose message is
 * the one line the user sees ("--memory: ..."). The bounds come from limits.ts, so a flag means
 * the same in every mode.
 */
import { MAX_MEMORY_MIB } from './limits.ts';

export class FlagError extends Error {}

type Raw = string | boolean | undefined;

/** A whole number from 1 to `max`. */
export function positiveInt(value: Raw, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new FlagError(`${flag}: expected a positive whole number, got '${String(value)}'`);
  }
  return n;
}

/** Guest memory in MiB: the same bound in every mode. */
export function memoryMiB(value: Raw, fallback: number): number {
  const n = positiveInt(value, '--memory', fallback);
  if (n > MAX_MEMORY_MIB) throw new FlagError(`--memory: at most ${MAX_MEMORY_MIB} MiB in every mode, got ${n}`);
  return n;
}

/** A positive number of seconds (fractions allowed), returned in milliseconds. */
export function seconds(value: Raw, flag: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1e7) {
    throw new FlagError(`${flag}: expected a positive number of seconds up to 10000000, got '${String(value)}'`);
  }
  return n * 1000;
}

/** A flag that takes no value (`--unchecked`): set or not. */
export function flagSet(value: Raw, flag: string): boolean {
  if (value === undefined || value === false) return false;
  if (value === true) return true;
  throw new FlagError(`${flag}: takes no value, got '${String(value)}'`);
}

/** One of `choices`. */
export function oneOf<T extends string>(value: Raw, flag: string, choices: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new FlagError(`${flag}: unknown ${what} '${String(value)}' (expected one of: ${choices.join(', ')})`);
  }
  return value as T;
}

/** Text whose UTF-8 encoding fits in `maxBytes` (a fixed field in guest memory counts bytes, not characters). */
export function utf8Text(value: Raw, flag: string, maxBytes: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const n = Buffer.byteLength(value, 'utf8');
  if (n > maxBytes) throw new FlagError(`${flag}: at most ${maxBytes} bytes of UTF-8, got ${n}`);
  return value;
}

/**
 * parseArgs reads `--max-instructions -5` as a flag with no value followed by an unknown flag
 * ("argument is ambiguous"). A value that looks like a number is plainly the flag's value: join
 * it as `--flag=-5`, so the flag's own parser says what is wrong with it.
 */
export function joinNegativeValues(args: string[], takesValue: (flag: string) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith('--') && !a.includes('=') && takesValue(a.slice(2)) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
