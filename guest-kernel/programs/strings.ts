/** Strings: literals as static bytes, length, charCodeAt, string parameters and identity. */
import { print, printKV, println, putc } from '../lib/console.ts';

const VOWELS = 'aeiouAEIOU';

function countChar(s: string, c: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === c) n++;
  return n;
}

function isVowel(c: number): boolean {
  for (let i = 0; i < VOWELS.length; i++) if (VOWELS.charCodeAt(i) === c) return true;
  return false;
}

function printUpper(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    putc(c >= 97 && c <= 122 ? c - 32 : c);
  }
  putc(10);
}

function printReversed(s: string): void {
  for (let i = s.length - 1; i >= 0; i--) putc(s.charCodeAt(i));
  putc(10);
}

function pick(n: number): string {
  switch (n) {
    case 0:
      return 'zero';
    case 1:
      return 'one';
    case 2:
      return 'two';
    default:
      return 'many';
  }
}

let current = 'initial';

export function main(): number {
  const text = 'The quick brown fox jumps over the lazy dog';
  printKV('length: ', text.length);
  printKV("count of 'o': ", countChar(text, 111));
  let vowels = 0;
  for (let i = 0; i < text.length; i++) if (isVowel(text.charCodeAt(i))) vowels++;
  printKV('vowels: ', vowels);
  printUpper(text);
  printReversed('stressed');
  for (let n = 0; n < 4; n++) println(pick(n));
  println(current);
  current = pick(2);
  println(current);
  printKV('same literal, same string: ', pick(1) === 'one' ? 1 : 0);
  printKV('different strings: ', pick(1) === pick(2) ? 1 : 0);
  printKV('empty length: ', ''.length);
  print('first char code of text: ');
  printKV('', text.charCodeAt(0));
  return countChar('mississippi', 115);
}
