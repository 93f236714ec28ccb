; popf-critical.s: the Popek–Goldberg test guest.
;
; A native kernel that disables interrupts the way x86 code does with `pushf; cli ... popf`, but
; with POPF alone: it saves FLAGS with PUSHF, pops a copy with IF cleared, runs a critical section,
; then restores the saved FLAGS with POPF. A timer interrupt every 500 instructions also updates
; the shared counter; the critical section reads the counter, spins about 900 instructions, and
; writes it back, so an interrupt inside it would lose an update.
;
; On the bare machine (privilege 0) and under `hw` (POPF exits and the monitor emulates it at the
; guest's privilege 0) POPF clears IF: each tick waits until the critical section ends, the guest's
; own check passes and it powers off with 0. Under `trap` the kernel runs at real privilege 3,
; where POPF is sensitive but not privileged: it does not trap, it silently ignores IF, the monitor
; never learns that the guest wanted interrupts off, and the timer interrupt enters the critical
; section. The guest's check sees it (updates lost, interrupts taken inside) and powers off with 1.
; PUSHF leaks the same way: it reports privilege 3 to a kernel that believes it runs at 0.

.equ UART_DATA, 0x3f8
.equ PIC_EOI, 0x20
.equ PIC_MASK, 0x21
.equ TIMER_PERIOD, 0x40
.equ POWER, 0xf4
.equ FLAG_IF, 1
.equ ROUNDS, 20
.equ SPIN, 450                          ; 2 instructions each: the section outlasts a timer period

start:
        ; vector table: everything to `unexpected`, the timer (vector 32) to `tick`
        la      r1, vectors
        mtcr    vbar, r1
        la      r2, unexpected
        li      r3, 256
fill:   stw     r2, [r1]
        addi    r1, r1, 4
        addi    r3, r3, -1
        li      r5, 0
        bne     r3, r5, fill
        la      r1, vectors
        la      r2, tick
        stw     r2, [r1+128]

        ; what does PUSHF say about our privilege?
        pushf
        pop     r1
        shri    r1, r1, 4
        andi    r1, r1, 3
        la      r2, cpl_digit
        addi    r1, r1, '0'
        stb     r1, [r2]
        la      r1, says
        call    puts

        li      r1, 0xfe                ; unmask the timer line
        out     PIC_MASK, r1
        li      r1, 500
        out     TIMER_PERIOD, r1
        sti

        li      r10, ROUNDS
        li      r8, 0
round:
        ; "disable interrupts": save FLAGS, then POPF a copy with IF clear
        pushf
        pop     r9
        li      r2, ~FLAG_IF
        and     r1, r9, r2
        push    r1
        popf

        ; the critical section: in_cs = 1; counter = counter + 1, slowly; in_cs = 0
        la      r3, in_cs
        li      r4, 1
        stw     r4, [r3]
        la      r5, counter
        ldw     r6, [r5]
        li      r7, SPIN
spin:   addi    r7, r7, -1
        bne     r7, r8, spin
        addi    r6, r6, 1
        stw     r6, [r5]
        stw     r8, [r3]

        ; "restore interrupts": POPF the saved FLAGS; a tick that waited is taken now
        push    r9
        popf
        nop
        addi    r10, r10, -1
        bne     r10, r8, round

        cli
        out     TIMER_PERIOD, r8

        ; the guest's own check: no tick inside, and no update lost
        la      r1, ticks_text
        call    puts
        la      r1, ticks
        ldw     r1, [r1]
        call    putd
        la      r1, inside_text
        call    puts
        la      r1, inside
        ldw     r1, [r1]
        call    putd
        la      r1, lost_text
        call    puts
        la      r1, ticks
        ldw     r2, [r1]
        addi    r2, r2, ROUNDS          ; what the counter should be
        la      r1, counter
        ldw     r3, [r1]
        sub     r1, r2, r3
        call    putd
        li      r1, '\n'
        out     UART_DATA, r1

        la      r1, inside
        ldw     r2, [r1]
        la      r1, ticks
        ldw     r4, [r1]
        addi    r4, r4, ROUNDS
        la      r1, counter
        ldw     r3, [r1]
        bne     r2, r8, corrupt
        bne     r3, r4, corrupt
        beq     r4, r8, corrupt         ; (no tick at all would prove nothing)
        la      r1, intact
        call    puts
        out     POWER, r8
halt:   jmp     halt
corrupt:
        la      r1, broken
        call    puts
        li      r1, 1
        out     POWER, r1
        jmp     halt

; the timer: ticks++, counter++, and note whether we landed inside the critical section
tick:
        push    r1
        push    r2
        la      r1, ticks
        ldw     r2, [r1]
        addi    r2, r2, 1
        stw     r2, [r1]
        la      r1, counter
        ldw     r2, [r1]
        addi    r2, r2, 1
        stw     r2, [r1]
        la      r1, in_cs
        ldw     r2, [r1]
        la      r1, inside
        ldw     r1, [r1]
        add     r2, r2, r1
        la      r1, inside
        stw     r2, [r1]
        out     PIC_EOI, r2
        pop     r2
        pop     r1
        iret

unexpected:
        la      r1, oops
        call    puts
        li      r1, 0xdead
        out     POWER, r1
        jmp     halt

; puts(r1 = NUL-terminated string); clobbers r1, r2, r3
puts:   li      r3, 0
puts1:  ldbu    r2, [r1]
        beq     r2, r3, puts2
        out     UART_DATA, r2
        addi    r1, r1, 1
        jmp     puts1
puts2:  ret

; putd(r1 = unsigned number): decimal; clobbers r1..r5
putd:   la      r2, digits_end
        li      r3, 10
        li      r5, 0
putd1:  remu    r4, r1, r3
        addi    r4, r4, '0'
        addi    r2, r2, -1
        stb     r4, [r2]
        divu    r1, r1, r3
        bne     r1, r5, putd1
        mov     r1, r2
        jmp     puts

says:        .ascii "popf-critical: pushf says CPL "
cpl_digit:   .asciz "?\n"
ticks_text:  .asciz "timer ticks: "
inside_text: .asciz ", taken inside the critical section: "
lost_text:   .asciz ", counter updates lost: "
intact:      .asciz "critical section intact: POPF disabled interrupts\n"
broken:      .asciz "critical section CORRUPTED: POPF did not disable interrupts (Popek-Goldberg)\n"
oops:        .asciz "unexpected exception\n"
digits:      .space 11
digits_end:  .byte 0
             .align 4
ticks:       .word 0
counter:     .word 0
inside:      .word 0
in_cs:       .word 0
vectors:     .space 1024
