/**
 * The start-up of the small logging kernel: every vector to `h`, timer line 0 to `irq` and
 * unmasked, the timer armed with `period`, r1 cleared (interrupts still off: the caller says sti).
 */
export const loggingKernelSetup = (period: number): string => `
    la r1, vec
    mtcr vbar, r1
    la r2, h
    li r3, 256
  f: stw r2, [r1]
    addi r1, r1, 4
    addi r3, r3, -1
    li r4, 0
    bne r3, r4, f
    la r1, vec
    la r2, irq
    stw r2, [r1+128]
    li r1, 0xfe
    out 0x21, r1
    li r1, ${period}
    out 0x40, r1
    li r1, 0
`;

/**
 * The handlers of the small logging kernel that the vmm fuzz test and the fuzz suite run random
 * code under: every vector prints its cause to the UART; a fault skips the faulting word (a
 * breakpoint and a system call return as they are); the timer interrupt prints 'T' and sends EOI.
 * `vec` is the 256-entry vector table the kernel's start-up fills with `h` (and `irq` at line 0).
 */
export const LOGGING_HANDLERS = `h: push r1
    mfcr r1, cause
    out 0x3f8, r1
    li r14, 3
    beq r1, r14, ret
    li r14, 0x80
    beq r1, r14, ret
    ldw r1, [sp+4]
    addi r1, r1, 4
    stw r1, [sp+4]
  ret: pop r1
    iret
  irq: push r1
    li r1, 'T'
    out 0x3f8, r1
    out 0x20, r1
    pop r1
    iret
    .align 4
  vec: .space 1024`;
