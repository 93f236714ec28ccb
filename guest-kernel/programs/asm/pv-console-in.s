; pv-console-in.s: a paravirtual guest that reads console input (tsvisor run --input TEXT).
; It registers an event callback, binds VIRQ_TIMER as a time-out, and blocks. Console input
; raises VIRQ_CONSOLE on the port the start-of-day page names; the upcall counts which port woke
; it and clears the pending bits. The guest then reads the input with console_io read in 8-byte
; pieces (to show the read resuming where it stopped) until it returns 0, echoes it, and shuts
; down with the number of bytes read: 0 and "no console input" when the timer woke it instead.
; Numbers: abi/hypercall-numbers.ts, abi/shared-info.ts.
.target pv
.equ HC_SET_CALLBACKS, 4
.equ HC_SET_TIMER_OP, 15
.equ HC_CONSOLE_IO, 18
.equ HC_IRET, 23
.equ HC_SCHED_OP, 29
.equ HC_EVENT_CHANNEL_OP, 32
.equ CONSOLEIO_WRITE, 0
.equ CONSOLEIO_READ, 1
.equ EVTCHNOP_BIND_VIRQ, 1
.equ SCHEDOP_BLOCK, 1
.equ SCHEDOP_SHUTDOWN, 2
.equ START_INFO, 0x400000
.equ SOD_CONSOLE_PORT, 36
.equ SHARED_INFO, 0x401000
.equ SI_UPCALL_PENDING, 0
.equ SI_EVTCHN_PENDING, 32
.equ TIMEOUT, 50000
.equ PIECE, 8

start:
        li      r0, HC_SET_CALLBACKS
        la      r1, upcall
        li      r2, 0
        hypercall
        li      r0, HC_EVENT_CHANNEL_OP
        li      r1, EVTCHNOP_BIND_VIRQ
        li      r2, 0                   ; VIRQ_TIMER
        hypercall
        li      r0, HC_SET_TIMER_OP
        li      r1, TIMEOUT
        li      r2, 0
        hypercall
        li      r0, HC_SCHED_OP         ; block: enables events, sleeps until one is pending
        li      r1, SCHEDOP_BLOCK
        hypercall
        la      r6, buf                 ; r6: where the next piece goes
        li      r7, 0                   ; r7: bytes read
more:   li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_READ
        mov     r2, r6
        li      r3, PIECE
        hypercall
        li      r5, 0
        beq     r0, r5, done
        add     r6, r6, r0
        add     r7, r7, r0
        li      r5, 248                 ; room for one more piece in buf
        blt     r7, r5, more
done:   li      r5, 0
        beq     r7, r5, none
        li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        la      r2, said
        li      r3, 6
        hypercall
        li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        la      r2, buf
        mov     r3, r7
        hypercall
        li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        la      r2, nl
        li      r3, 1
        hypercall
        jmp     finish
none:   li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        la      r2, nothing
        li      r3, 17
        hypercall
finish: li      r0, HC_CONSOLE_IO       ; which event woke us: "console" or "timer"
        li      r1, CONSOLEIO_WRITE
        la      r2, woke
        li      r3, 9
        hypercall
        la      r3, consolewakes
        ldw     r3, [r3]
        li      r5, 0
        beq     r3, r5, bytimer
        la      r2, byconsole
        li      r3, 8
        jmp     tell
bytimer:
        la      r2, bytimer_s
        li      r3, 6
tell:   li      r0, HC_CONSOLE_IO
        li      r1, CONSOLEIO_WRITE
        hypercall
        li      r0, HC_SCHED_OP
        li      r1, SCHEDOP_SHUTDOWN
        mov     r2, r7
        hypercall

; The event callback. The hypervisor left a bounce frame at sp:
; [sp] vector, [sp+4] error, [sp+8] address, [sp+12] pc, [sp+16] flags, [sp+20] sp.
upcall:
        push    r0
        push    r1
        push    r2
        push    r3
        push    r4
        push    r5
        li32    r1, SHARED_INFO
        li      r2, 0
        stw     r2, [r1+SI_UPCALL_PENDING]
        ldw     r5, [r1+SI_EVTCHN_PENDING]
        li32    r3, START_INFO          ; was the console's port pending?
        ldw     r3, [r3+SOD_CONSOLE_PORT]
        shr     r4, r5, r3
        li      r2, 1
        and     r4, r4, r2
        la      r3, consolewakes
        ldw     r2, [r3]
        add     r2, r2, r4
        stw     r2, [r3]
        li      r2, 0                   ; clear every pending bit: console and timer both handled
        stw     r2, [r1+SI_EVTCHN_PENDING]
        pop     r5
        pop     r4
        pop     r3
        pop     r2
        pop     r1
        pop     r0
        stw     r0, [sp+8]              ; iret: sp at the frame's r0 slot, holding r0
        addi    sp, sp, 8
        li      r0, HC_IRET
        hypercall

said:   .ascii  "read: "
nothing:
        .ascii  "no console input\n"
woke:   .ascii  "woken by "
byconsole:
        .ascii  "console\n"
bytimer_s:
        .ascii  "timer\n"
nl:     .ascii  "\n"
        .align  4
consolewakes:
        .word   0
buf:    .space  256
