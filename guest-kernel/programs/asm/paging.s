; paging.s: a small kernel that exercises paging the way a real one does, and prints what it sees,
; so every mode can be held to the bare machine's output: two address spaces sharing the kernel's
; page table, remapping a page and changing its permissions (each followed by INVLPG), a page
; fault handler that fixes permissions and maps pages on demand (writing page tables live), the
; accessed and dirty bits, a switch of address space, and a user task that makes a system call and
; then touches kernel memory. Under `trap` the page-table writes are `ptemod` exits and the
; kernel's first touches of pages are hidden `shadow-fill` faults; under `hw` none of that exits.
;
; Guest-physical layout (the kernel identity-maps its first 1 MiB, supervisor-only):
;   0x01000  this image            0x20000  directory A      0x21000  kernel table (0..4 MiB)
;   0x22000  table A (4..8 MiB)    0x23000  directory B      0x24000  table B (4..8 MiB)
;   0x30000  frame X               0x31000  frame Y          0x32000  frame Z
;   0x50000  user stack page       0x60000+ frames handed out by the page fault handler
;   0x80000  top of the kernel stack

.equ UART_DATA, 0x3f8
.equ POWER, 0xf4
.equ P, 1
.equ W, 2
.equ U, 4
.equ PD_A, 0x20000
.equ PT_K, 0x21000
.equ PT_A, 0x22000
.equ PD_B, 0x23000
.equ PT_B, 0x24000
.equ FRAME_X, 0x30000
.equ FRAME_Y, 0x31000
.equ FRAME_Z, 0x32000
.equ USTACK, 0x50000
.equ POOL, 0x60000
.equ KSTACK_TOP, 0x80000
.equ VA, 0x400000
.equ VA_DEMAND, 0x800000

start:
        li      sp, KSTACK_TOP
        ; vector table: everything to `unexpected`, #PF (14) and syscall (0x80) to their handlers
        la      r1, vectors
        mtcr    vbar, r1
        la      r2, unexpected
        li      r3, 256
vfill:  stw     r2, [r1]
        addi    r1, r1, 4
        addi    r3, r3, -1
        li      r5, 0
        bne     r3, r5, vfill
        la      r1, vectors
        la      r2, page_fault
        stw     r2, [r1+56]
        la      r2, syscall_entry
        stw     r2, [r1+0x200]
        li      r1, KSTACK_TOP
        mtcr    ksp, r1

        ; the kernel table: identity map of 0..1 MiB, present and writable, supervisor only
        li      r1, PT_K
        li      r2, P | W
        li      r3, 256
        li      r4, 0x1000
kmap:   stw     r2, [r1]
        addi    r1, r1, 4
        add     r2, r2, r4
        addi    r3, r3, -1
        li      r5, 0
        bne     r3, r5, kmap
        ; the user's pages: the page holding `user_code` (and its data) and the user stack
        la      r1, user_code
        shri    r1, r1, 12
        shli    r1, r1, 2
        li      r2, PT_K
        add     r1, r1, r2
        ldw     r2, [r1]
        ori     r2, r2, U
        stw     r2, [r1]
        li      r1, PT_K + (USTACK >> 12) * 4
        li      r2, USTACK | P | W | U
        stw     r2, [r1]
        ; directories: entry 0 = the shared kernel table, entry 1 = each space's own table
        li      r1, PD_A
        li      r2, PT_K | P | W | U
        stw     r2, [r1]
        li      r2, PT_A | P | W | U
        stw     r2, [r1+4]
        li      r1, PD_B
        li      r2, PT_K | P | W | U
        stw     r2, [r1]
        li      r2, PT_B | P | W | U
        stw     r2, [r1+4]
        ; VA maps frame X in A, frame Z in B; Y and Z get recognisable contents
        li      r1, PT_A
        li      r2, FRAME_X | P | W
        stw     r2, [r1]
        li      r1, PT_B
        li      r2, FRAME_Z | P | W
        stw     r2, [r1]
        li      r1, FRAME_Y
        li      r2, 0x2222
        stw     r2, [r1]
        li      r1, FRAME_Z
        li      r2, 0x3333
        stw     r2, [r1]

        ; paging on, in address space A
        li      r1, PD_A
        mtcr    ptbr, r1
        li      r1, 1
        mtcr    ctrl, r1
        la      r1, m_on
        call    puts

        ; 1. a read, then a write through VA; the PTE's accessed and dirty bits after each
        li      r9, VA
        ldw     r1, [r9]
        call    show_pte
        li      r1, 0x1111
        stw     r1, [r9]
        ldw     r1, [r9]
        call    show_word
        call    show_pte

        ; 2. remap VA to frame Y (a live page-table write), INVLPG, read
        li      r1, PT_A
        li      r2, FRAME_Y | P | W
        stw     r2, [r1]
        invlpg  r9
        la      r1, m_remap
        call    puts
        ldw     r1, [r9]
        call    show_word
        call    show_pte

        ; 3. make VA read-only, INVLPG, write: the fault handler makes it writable again
        li      r1, PT_A
        li      r2, FRAME_Y | P
        stw     r2, [r1]
        invlpg  r9
        la      r1, m_ro
        call    puts
        li      r1, 1
        la      r2, pf_action
        stw     r1, [r2]
        li      r1, 0x4444
        stw     r1, [r9]
        ldw     r1, [r9]
        call    show_word

        ; 4. demand paging: VA_DEMAND has no table; the handler builds one and maps a frame
        la      r1, m_demand
        call    puts
        li      r1, 2
        la      r2, pf_action
        stw     r1, [r2]
        li      r10, VA_DEMAND
        ldw     r1, [r10+8]
        call    show_word
        li      r1, 0x5555
        stw     r1, [r10+8]
        ldw     r1, [r10+8]
        call    show_word

        ; 5. switch to B and back: the same VA, another frame
        li      r1, PD_B
        mtcr    ptbr, r1
        la      r1, m_b
        call    puts
        ldw     r1, [r9]
        call    show_word
        li      r1, PD_A
        mtcr    ptbr, r1
        la      r1, m_a
        call    puts
        ldw     r1, [r9]
        call    show_word

        ; 6. a user task: a system call, then a touch of kernel memory (killed by the handler)
        la      r1, m_user
        call    puts
        li      r1, 3
        la      r2, pf_action
        stw     r1, [r2]
        li      r1, USTACK + 0x1000
        push    r1                      ; sp
        li      r1, 0x30
        push    r1                      ; FLAGS: CPL 3, IF clear
        la      r1, user_code
        push    r1                      ; pc
        iret
user_done:
        li      sp, KSTACK_TOP
        la      r1, m_done
        call    puts
        li      r1, PT_A
        ldw     r1, [r1]
        call    puthex
        li      r1, '\n'
        out     UART_DATA, r1
        li      r1, 7
        out     POWER, r1
halt:   jmp     halt

; page fault: print the address and error code, then act as pf_action says
page_fault:
        push    r1
        push    r2
        push    r3
        push    r4
        push    r5
        la      r1, m_pf
        call    puts
        mfcr    r1, faultaddr
        call    puthex
        la      r1, m_err
        call    puts
        mfcr    r1, errcode
        call    puthex
        li      r1, '\n'
        out     UART_DATA, r1
        la      r1, pf_action
        ldw     r1, [r1]
        li      r2, 1
        beq     r1, r2, pf_writable
        li      r2, 2
        beq     r1, r2, pf_demand
        li      r2, 3
        beq     r1, r2, pf_kill
        jmp     unexpected
pf_writable:                            ; set W in VA's entry again
        li      r1, PT_A
        ldw     r2, [r1]
        ori     r2, r2, W
        stw     r2, [r1]
        li      r1, VA
        invlpg  r1
        jmp     pf_return
pf_demand:                              ; a new table for the directory slot, and a frame
        la      r1, pool_next
        ldw     r2, [r1]                ; the table
        addi    r3, r2, 0x1000          ; the frame
        addi    r4, r3, 0x1000
        stw     r4, [r1]
        mfcr    r1, faultaddr
        shri    r1, r1, 22
        shli    r1, r1, 2
        li      r4, PD_A
        add     r1, r1, r4
        ori     r4, r2, P | W | U
        stw     r4, [r1]                ; directory entry
        mfcr    r1, faultaddr
        shri    r1, r1, 12
        andi    r1, r1, 1023
        shli    r1, r1, 2
        add     r1, r1, r2
        ori     r4, r3, P | W
        stw     r4, [r1]                ; table entry (the new table was zero: the pool is)
        jmp     pf_return
pf_kill:
        la      r1, m_kill
        call    puts
        la      r1, user_done
        jr      r1
pf_return:
        pop     r5
        pop     r4
        pop     r3
        pop     r2
        pop     r1
        iret

; syscall 1: print the user's string at r1
syscall_entry:
        push    r2
        push    r3
        call    puts
        pop     r3
        pop     r2
        sysret

unexpected:
        la      r1, m_oops
        call    puts
        mfcr    r1, cause
        call    puthex
        li      r1, 0xdead
        out     POWER, r1
        jmp     halt

; show_word(r1): "  word 0x...\n"
show_word:
        push    r1
        la      r1, m_word
        call    puts
        pop     r1
        call    puthex
        li      r1, '\n'
        out     UART_DATA, r1
        ret

; show_pte: the low flag bits (P W U A D) of VA's entry in table A
show_pte:
        la      r1, m_pte
        call    puts
        li      r1, PT_A
        ldw     r1, [r1]
        andi    r1, r1, 0x67
        call    puthex
        li      r1, '\n'
        out     UART_DATA, r1
        ret

; puts(r1 = NUL-terminated string); clobbers r1, r2, r3
puts:   li      r3, 0
puts1:  ldbu    r2, [r1]
        beq     r2, r3, puts2
        out     UART_DATA, r2
        addi    r1, r1, 1
        jmp     puts1
puts2:  ret

; puthex(r1): "0x" and 8 hex digits; clobbers r1..r5
puthex: li      r2, '0'
        out     UART_DATA, r2
        li      r2, 'x'
        out     UART_DATA, r2
        li      r3, 8
        li      r5, 0
puthex1:
        shri    r2, r1, 28
        slti    r4, r2, 10
        addi    r2, r2, '0'
        bne     r4, r5, puthex2
        addi    r2, r2, 'a' - '0' - 10
puthex2:
        out     UART_DATA, r2
        shli    r1, r1, 4
        addi    r3, r3, -1
        bne     r3, r5, puthex1
        ret

m_on:     .asciz "paging on, address space A\n"
m_remap:  .asciz "remapped VA to frame Y\n"
m_ro:     .asciz "VA read-only, writing it\n"
m_demand: .asciz "touching an unmapped region\n"
m_b:      .asciz "address space B\n"
m_a:      .asciz "address space A\n"
m_user:   .asciz "entering the user task\n"
m_done:   .asciz "back in the kernel; VA's entry: "
m_pf:     .asciz "page fault at "
m_err:    .asciz " err "
m_kill:   .asciz "killing the user task\n"
m_oops:   .asciz "unexpected exception "
m_word:   .asciz "  word "
m_pte:    .asciz "  pte flags "
          .align 4
pf_action: .word 0
pool_next: .word POOL
vectors:  .space 1024

; the user task, on a page of its own mapped with U
          .align 4096
user_code:
        li      r0, 1
        la      r1, m_hello
        syscall
        li      r1, PT_A
        ldw     r2, [r1]                ; a kernel page: the task is killed here
        li      r1, 0x666
        out     POWER, r1
m_hello:  .asciz "hello from user mode\n"
