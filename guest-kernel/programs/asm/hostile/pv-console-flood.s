; pv-console-flood.s: a pv guest that writes a 4 KiB buffer with console_io write forever (the
; largest write the ABI takes). Its console grows by 4 KiB every few instructions: the host keeps
; a bounded ring of it (hypervisor/limits.ts).
.target pv
.equ HC_CONSOLE_IO, 18
.equ CONSOLEIO_WRITE, 0
.equ CONSOLEIO_MAX, 4096

start:  la      r6, buf                 ; fill the buffer with 'a'..'z' and a newline per 64 bytes
        li      r7, 0
        li      r9, CONSOLEIO_MAX
fill:   li      r8, 63
        and     r10, r7, r8
        beq     r10, r8, nl
        li      r8, 26
        remu    r10, r7, r8
        addi    r10, r10, 'a'
        jmp     put
nl:     li      r10, 10
put:    add     r11, r6, r7
        stb     r10, [r11]
        addi    r7, r7, 1
        blt     r7, r9, fill
loop:   li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        mov     r2, r6
        li      r3, CONSOLEIO_MAX
        hypercall
        jmp     loop
buf:    .space  4096
