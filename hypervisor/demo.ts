/** The demo guest booted by `tsvisor demo` (and `npm start`): its source ships in guest-kernel/programs/asm. */
import { readFileSync } from 'node:fs';

export const DEMO_PATH = new URL('../guest-kernel/programs/asm/demo.s', import.meta.url);
export const DEMO_SOURCE = readFileSync(DEMO_PATH, 'utf8');
