; sieve.s: the CPU benchmark's compute loop. Counts the primes below N with the sieve of
; Eratosthenes, PASSES times over a byte array, and powers off with the count (78498 for 10^6).

.equ N, 1000000
.equ PASSES, 4
.equ POWER, 0xf4

start:
        li      r10, PASSES
pass:
        ; flags[i] = 1 for 0 <= i < N
        la      r1, flags
        li      r3, N
        add     r3, r3, r1              ; r3 = end
        li      r4, 1
clear:  stb     r4, [r1]
        addi    r1, r1, 1
        bne     r1, r3, clear

        ; for p = 2; p * p < N; p++: if flags[p], cross out p*p, p*p+p, ...
        la      r1, flags
        li      r2, 2                   ; p
        li      r3, N
        li      r6, 0
outer:  mul     r5, r2, r2
        bge     r5, r3, count
        add     r7, r1, r2
        ldbu    r7, [r7]
        beq     r7, r6, next
inner:  add     r7, r1, r5
        stb     r6, [r7]
        add     r5, r5, r2
        blt     r5, r3, inner
next:   addi    r2, r2, 1
        jmp     outer

        ; count the flags still set, from 2
count:  li      r8, 0
        li      r2, 2
cloop:  add     r7, r1, r2
        ldbu    r7, [r7]
        add     r8, r8, r7
        addi    r2, r2, 1
        blt     r2, r3, cloop

        addi    r10, r10, -1
        bne     r10, r6, pass
        out     POWER, r8
halt:   jmp     halt

        .align 4
flags:  .space N
