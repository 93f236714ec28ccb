; pv-unknown-hypercalls.s: a pv guest that calls ever-new hypercall numbers the ABI does not have
; (1000, 1001, ...), forever. Each gets -ENOSYS; the host counts the first few by name and the
; rest in one 'other-unknown' bucket (hypervisor/limits.ts UNKNOWN_CALL_KEYS), so neither its
; memory nor the --json report grows with the guest's choice of numbers.
.target pv
start:  li      r6, 1000
loop:   mov     r0, r6
        hypercall
        addi    r6, r6, 1
        jmp     loop
