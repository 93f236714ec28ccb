/**
 * The tables a compiled program carries for its default exception handler: the layout shared by
 * the compiler that writes them (guest-kernel/compiler/runtime-tables.ts) and the guest runtime
 * that reads them when a fault arrives (guest-kernel/lib/runtime.ts). Numbers only, no imports,
 * so the guest imports this file directly and the two cannot drift.
 *
 * The header (RT_*, one word each) lies in writable data, since native start-up fills in the
 * guard page it chose; the tables it points to are read-only data. A string is a guest string:
 * its bytes at the address, its length in the word just below.
 *
 *   RT_GUARD         guard page below the stack (native: set at start-up; pv: the boot stack's); 0 = none
 *   RT_CODE          address of the first instruction the line table describes
 *   RT_LINES         line table: one word per run of instructions from one source line,
 *                    (run length in words << RT_LINE_SHIFT) | line; runs follow each other from
 *                    RT_CODE; line 0 = no source line (start-up code)
 *   RT_FILES         file table: {first address, file name string} pairs, by address; a file
 *                    covers code up to the next entry's address
 *   RT_SITES         run-time check sites: {pc of the trapping instruction, file name string,
 *                    message string `line:col: what in 'text'`}, by pc
 *   RT_VECTOR_NAMES  32 words: the name string of exception vector n (abi/isa.ts), or 0
 */
export const RT_GUARD = 0;
export const RT_CODE = 4;
export const RT_LINES = 8;
export const RT_LINE_COUNT = 12;
export const RT_FILES = 16;
export const RT_FILE_COUNT = 20;
export const RT_SITES = 24;
export const RT_SITE_COUNT = 28;
export const RT_VECTOR_NAMES = 32;
export const RT_HEADER_BYTES = 36;

/** A line-table word: the run's length in instruction words above this shift, its line below. */
export const RT_LINE_SHIFT = 20;
export const RT_LINE_MASK = (1 << RT_LINE_SHIFT) - 1;
/** Longest run one word describes; a longer one takes several words. */
export const RT_RUN_MAX_WORDS = (1 << (32 - RT_LINE_SHIFT)) - 1;

export const RT_FILE_BYTES = 8;
export const RT_SITE_BYTES = 12;
export const RT_SITE_FILE = 4;
export const RT_SITE_MESSAGE = 8;
/** Exception vectors the default handler takes (and names): 0..31. */
export const RT_VECTORS = 32;
