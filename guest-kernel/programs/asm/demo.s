; demo.s: the native guest that `npm start` boots. It shows the bare machine's devices:
; prints over the UART, reads sector 1 of the block device and prints it (or says there is no
; disk when the device refuses the read), installs a vector table, takes timer interrupts while
; idling in HLT, and powers off with a code.
; Port numbers are those of abi/platform.ts.

.equ UART_DATA, 0x3f8
.equ PIC_EOI, 0x20
.equ PIC_MASK, 0x21
.equ TIMER_PERIOD, 0x40
.equ BLK_DATA, 0x1f0
.equ BLK_COUNT, 0x1f2
.equ BLK_SECTOR, 0x1f3
.equ BLK_COMMAND, 0x1f7
.equ BLK_CMD_READ, 0x20
.equ BLK_STATUS_ERROR, 0x80
.equ POWER, 0xf4
.equ TICKS_WANTED, 5
.equ EXIT_CODE, 42

start:
        la      r1, hello
        call    puts

        ; read sector 1: sector, count, command, then 128 words from the data port
        li      r1, 1
        out     BLK_SECTOR, r1
        out     BLK_COUNT, r1
        li      r1, BLK_CMD_READ
        out     BLK_COMMAND, r1
        ; with no disk (or one shorter than two sectors) the device refuses the command: say so
        ; rather than print the all-ones words the data port then returns
        in      r4, BLK_COMMAND
        andi    r4, r4, BLK_STATUS_ERROR
        li      r5, 0
        beq     r4, r5, read_ok
        la      r1, no_disk
        call    puts
        jmp     vectors_setup
read_ok:
        la      r2, sector
        li      r3, 128
read:   in      r4, BLK_DATA
        stw     r4, [r2]
        addi    r2, r2, 4
        addi    r3, r3, -1
        li      r5, 0
        bne     r3, r5, read
        la      r1, from_disk
        call    puts
        la      r1, sector
        call    puts

        ; vector table: every vector to `unexpected`, then the timer line (vector 32)
vectors_setup:
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
        la      r2, timer_isr
        stw     r2, [r1+128]

        li      r1, 0xfe                ; unmask line 0 (timer) only
        out     PIC_MASK, r1
        li      r1, 1000                ; a tick every 1000 instructions
        out     TIMER_PERIOD, r1
        sti
wait:   hlt
        la      r1, ticks
        ldw     r2, [r1]
        li      r3, TICKS_WANTED
        blt     r2, r3, wait
        cli
        li      r1, 0
        out     TIMER_PERIOD, r1

        la      r1, ticked
        call    puts
        li      r1, EXIT_CODE
        out     POWER, r1
halt:   jmp     halt

; puts(r1 = NUL-terminated string); clobbers r1, r2, r3
puts:   li      r3, 0
puts1:  ldbu    r2, [r1]
        beq     r2, r3, puts2
        out     UART_DATA, r2
        addi    r1, r1, 1
        jmp     puts1
puts2:  ret

timer_isr:
        push    r1
        push    r2
        la      r1, ticks
        ldw     r2, [r1]
        addi    r2, r2, 1
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

hello:      .asciz "hello from a native tsvisor guest\n"
from_disk:  .asciz "sector 1 of the disk: "
no_disk:    .asciz "no disk to read (run it with --disk FILE)\n"
ticked:     .asciz "took 5 timer interrupts in HLT; powering off with code 42\n"
oops:       .asciz "unexpected exception\n"
            .align 4
ticks:      .word 0
sector:     .space 516
            .align 4
vectors:    .space 1024
