; pv-timer.s: a paravirtual guest that takes timer upcalls through an event channel.
; It registers an event callback, binds VIRQ_TIMER to a port, arms a one-shot timer, and blocks;
; each upcall clears the port's pending bit, counts a tick and re-arms the timer. After three
; ticks it prints and shuts down with the tick count. Numbers: abi/hypercall-numbers.ts.
.target pv
.equ HC_SET_CALLBACKS, 4
.equ HC_SET_TIMER_OP, 15
.equ HC_CONSOLE_IO, 18
.equ HC_IRET, 23
.equ HC_SCHED_OP, 29
.equ HC_EVENT_CHANNEL_OP, 32
.equ EVTCHNOP_BIND_VIRQ, 1
.equ SCHEDOP_BLOCK, 1
.equ SCHEDOP_SHUTDOWN, 2
.equ SHARED_INFO, 0x401000
.equ SI_UPCALL_PENDING, 0
.equ SI_TIME_LO, 12
.equ SI_EVTCHN_PENDING, 32
.equ PERIOD, 1000
.equ TICKS, 3

start:
        li      r0, HC_SET_CALLBACKS
        la      r1, upcall
        li      r2, 0
        hypercall
        li      r0, HC_EVENT_CHANNEL_OP
        li      r1, EVTCHNOP_BIND_VIRQ
        li      r2, 0                   ; VIRQ_TIMER
        hypercall
        la      r3, port
        stw     r0, [r3]
        li      r0, HC_SET_TIMER_OP
        li      r1, PERIOD
        li      r2, 0
        hypercall
wait:   li      r0, HC_SCHED_OP         ; block: enables events, sleeps until one is pending
        li      r1, SCHEDOP_BLOCK
        hypercall
        la      r3, ticks
        ldw     r4, [r3]
        li      r5, TICKS
        blt     r4, r5, wait
        li      r0, HC_CONSOLE_IO
        li      r1, 0
        la      r2, msg
        li      r3, 22
        hypercall
        li      r0, HC_SCHED_OP
        li      r1, SCHEDOP_SHUTDOWN
        mov     r2, r4
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
        la      r3, port                ; clear our port's pending bit
        ldw     r3, [r3]
        li      r4, 1
        shl     r4, r4, r3
        not     r4, r4
        ldw     r5, [r1+SI_EVTCHN_PENDING]
        and     r5, r5, r4
        stw     r5, [r1+SI_EVTCHN_PENDING]
        la      r3, ticks
        ldw     r4, [r3]
        addi    r4, r4, 1
        stw     r4, [r3]
        ldw     r1, [r1+SI_TIME_LO]     ; re-arm: PERIOD after the time stamped at entry
        addi    r1, r1, PERIOD
        li      r2, 0
        li      r0, HC_SET_TIMER_OP
        hypercall
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

msg:    .ascii  "three timer upcalls!\n\n"
        .align  4
port:   .word   0
ticks:  .word   0
