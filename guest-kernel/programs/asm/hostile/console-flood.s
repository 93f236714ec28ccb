; console-flood.s: a native guest that writes to the UART forever, one byte per OUT. The host
; must stream it or keep a bounded ring of it (hypervisor/limits.ts CONSOLE_KEEP_BYTES), never
; grow without end. Used by test/e2e/bounds.test.ts and the console throughput benchmark.
start:  li      r1, 'A'
        li      r2, 'Z'
loop:   out     0x3f8, r1
        addi    r1, r1, 1
        bge     r2, r1, loop
        li      r1, 'A'
        jmp     loop
