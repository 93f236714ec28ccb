; pv-user.s: a paravirtual kernel with a user task in its own address space. The kernel builds a
; user page directory (sharing only region 0 with the kernel: the start-of-day page is not mapped
; for the user), registers a system-call entry and a page-fault handler, and returns to user mode
; with the iret hypercall. The task makes a system call (bounced by the hypervisor into the kernel,
; in the kernel's address space) and then touches the start-of-day page, which faults (bounced into
; the kernel's page-fault handler). The kernel checks what it saw and shuts down with 7 on success.
.target pv
.equ HC_SET_TRAP_TABLE, 0
.equ HC_STACK_SWITCH, 3
.equ HC_SET_CALLBACKS, 4
.equ HC_UPDATE_VA_MAPPING, 14
.equ HC_CONSOLE_IO, 18
.equ HC_IRET, 23
.equ HC_MMUEXT_OP, 26
.equ HC_SCHED_OP, 29
.equ MMUEXT_PIN_L2_TABLE, 1
.equ MMUEXT_NEW_USER_BASEPTR, 15
.equ START_INFO, 0x400000
.equ SOD_MAGIC, 0
.equ SOD_FRAME_LIST, 20
.equ SOD_FIRST_FREE, 32
.equ PAGE_DIR_VA, 0x402000
.equ SCRATCH_VA, 0x200000
.equ KERNEL_STACK, 0x3f8000
.equ USER_STACK, 0x30000
.equ PTE_PWU, 7

start:
        ; F = first free frame
        li32    r1, START_INFO
        ldw     r2, [r1+SOD_FIRST_FREE]
        ldw     r3, [r1+SOD_FRAME_LIST]
        shli    r2, r2, 2
        add     r3, r3, r2
        ldw     r9, [r3]                ; r9 = F
        ; map F at SCRATCH_VA, copy the kernel's directory entry 0 into it, unmap it
        li      r0, HC_UPDATE_VA_MAPPING
        li32    r1, SCRATCH_VA
        shli    r2, r9, 12
        ori     r2, r2, PTE_PWU
        li      r3, 0
        hypercall
        li32    r4, PAGE_DIR_VA
        ldw     r5, [r4]
        li32    r6, SCRATCH_VA
        stw     r5, [r6]
        li      r0, HC_UPDATE_VA_MAPPING
        li32    r1, SCRATCH_VA
        li      r2, 0
        li      r3, 0
        hypercall
        ; pin F as a directory; make it the user address space
        li      r0, HC_MMUEXT_OP
        li      r1, MMUEXT_PIN_L2_TABLE
        mov     r2, r9
        hypercall
        li      r8, 0
        bne     r0, r8, fail
        li      r0, HC_MMUEXT_OP
        li      r1, MMUEXT_NEW_USER_BASEPTR
        mov     r2, r9
        hypercall
        ; entries: system call, page fault; the kernel stack for bounces from user mode
        li      r0, HC_SET_CALLBACKS
        li      r1, 0
        la      r2, sys_entry
        hypercall
        li      r0, HC_SET_TRAP_TABLE
        la      r1, traps
        li      r2, 1
        hypercall
        li      r0, HC_STACK_SWITCH
        li32    r1, KERNEL_STACK
        hypercall
        ; to user mode: iret with a frame {r0, pc, flags = user, sp}
        li32    r1, USER_STACK
        push    r1
        li      r1, 0x30                ; CPL field = 3: guest user mode
        push    r1
        la      r1, user
        push    r1
        li      r1, 0
        push    r1
        li      r0, HC_IRET
        hypercall
fail:   li      r0, HC_SCHED_OP
        li      r1, 2
        li      r2, 99
        hypercall

; ---- the user task
user:   li      r1, 7
        syscall                         ; -> sys_entry, r0 = 100 on return
        la      r3, result
        stw     r0, [r3]
        li32    r4, START_INFO
        ldw     r5, [r4]                ; not mapped for the user: page fault
spin:   jmp     spin

; ---- kernel entries; the bounce frame is at sp (vector, error, address, pc, flags, sp)
sys_entry:
        li32    r4, START_INFO          ; only mapped in the kernel's address space
        ldw     r5, [r4+SOD_MAGIC]
        la      r6, magic
        stw     r5, [r6]
        la      r6, sysarg
        stw     r1, [r6]
        li      r0, 100                 ; the system call's result
        stw     r0, [sp+8]              ; iret from the frame: r0 slot, then pc, flags, sp
        addi    sp, sp, 8
        li      r0, HC_IRET
        hypercall

pf_entry:
        ldw     r7, [sp+8]              ; fault address
        ldw     r8, [sp+16]             ; flags: 0x30 if user mode was interrupted
        li32    r1, START_INFO
        bne     r7, r1, bad
        li      r1, 0x30
        and     r8, r8, r1
        bne     r8, r1, bad
        la      r1, result
        ldw     r1, [r1]
        li      r2, 100
        bne     r1, r2, bad
        la      r1, magic
        ldw     r1, [r1]
        li32    r2, 0x56505354
        bne     r1, r2, bad
        li      r0, HC_CONSOLE_IO
        li      r1, 0
        la      r2, msg
        li      r3, 38
        hypercall
        la      r2, sysarg
        ldw     r2, [r2]
        li      r0, HC_SCHED_OP
        li      r1, 2
        hypercall
bad:    li      r0, HC_SCHED_OP
        li      r1, 2
        li      r2, 98
        hypercall

msg:    .ascii  "syscall and page fault from user mode\n"
        .align  4
traps:  .word   14, pf_entry
result: .word   0
magic:  .word   0
sysarg: .word   0
