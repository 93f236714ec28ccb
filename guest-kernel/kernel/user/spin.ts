/** spin: loops forever without a system call, until killed (usertests' kill test; preemption). */
let counter = 0;

export function main(): number {
  for (;;) counter = (counter + 1) | 0;
}
