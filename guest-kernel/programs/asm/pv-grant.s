; pv-grant.s: two domains share a page through a grant and signal each other through an
; interdomain event channel. Boot the same image as domain 0 and domain 1:
;   domain 0 grants a page to domain 1 (grant ref 0), offers event-channel port 2, writes
;     "ping" in the page and waits; when domain 1 signals, it prints the reply, revokes the
;     grant, signals back, waits for domain 1 to finish, and shuts down with 0;
;   domain 1 binds to port 2 (retrying until domain 0 has offered it), maps the grant, prints
;     what it finds, writes "pong", unmaps, signals, waits, then tries to map the revoked grant:
;     it signals, and shuts down with the error the hypervisor returned (13, EACCES).
.target pv
.equ HC_UPDATE_VA_MAPPING, 14
.equ HC_CONSOLE_IO, 18
.equ HC_GRANT_TABLE_OP, 20
.equ HC_SCHED_OP, 29
.equ HC_EVENT_CHANNEL_OP, 32
.equ GNTTABOP_MAP, 0
.equ GNTTABOP_UNMAP, 1
.equ GNTTABOP_SETUP, 2
.equ EVTCHNOP_BIND_INTERDOMAIN, 0
.equ EVTCHNOP_SEND, 4
.equ EVTCHNOP_ALLOC_UNBOUND, 6
.equ SCHEDOP_YIELD, 0
.equ SCHEDOP_BLOCK, 1
.equ SCHEDOP_SHUTDOWN, 2
.equ START_INFO, 0x400000
.equ SOD_DOMID, 8
.equ SHARED_INFO, 0x401000
.equ SI_UPCALL_PENDING, 0
.equ SI_EVTCHN_PENDING, 32
.equ GTF_PERMIT_ACCESS, 1
.equ MAP_VA, 0x200000

start:
        li32    r1, START_INFO
        ldw     r1, [r1+SOD_DOMID]
        li      r2, 0
        beq     r1, r2, dom0
        jmp     dom1

; ---- domain 0: the granter
dom0:   li      r0, HC_GRANT_TABLE_OP
        li      r1, GNTTABOP_SETUP
        la      r2, gnttab
        li      r3, 4
        hypercall
        la      r1, shared              ; machine frame of `shared`: read its PTE through the
        call    frame_of                ; read-only page-table mapping
        la      r2, gnttab              ; entry 0: {flags, domid = 1} then frame
        stw     r1, [r2+4]
        li32    r3, 0x10000 | GTF_PERMIT_ACCESS
        stw     r3, [r2]                ; flags last, as Xen asks
        li      r0, HC_EVENT_CHANNEL_OP
        li      r1, EVTCHNOP_ALLOC_UNBOUND
        li      r2, 1
        hypercall                       ; port 2 (port 1 is the console virq)
        la      r1, myport
        stw     r0, [r1]
        la      r1, shared
        la      r2, ping
        call    copy4
        call    wait_event
        la      r2, shared
        li      r3, 5
        call    print
        la      r2, gnttab              ; revoke the grant
        li      r3, 0
        stw     r3, [r2]
        call    signal
        call    wait_event              ; stay alive until domain 1 has tried the revoked grant
        li      r2, 0
        jmp     shutdown

; ---- domain 1: the mapper
dom1:   li      r0, HC_EVENT_CHANNEL_OP
        li      r1, EVTCHNOP_BIND_INTERDOMAIN
        li      r2, 0
        li      r3, 2
        hypercall
        li      r4, 0
        bge     r0, r4, bound
        li      r0, HC_SCHED_OP         ; domain 0 has not offered the port yet
        li      r1, SCHEDOP_YIELD
        hypercall
        jmp     dom1
bound:  la      r1, myport
        stw     r0, [r1]
        call    map
        li      r4, 0
        blt     r0, r4, fail
        mov     r9, r0                  ; handle
        li32    r2, MAP_VA
        li      r3, 5
        call    print
        li32    r1, MAP_VA
        la      r2, pong
        call    copy4
        li      r0, HC_GRANT_TABLE_OP
        li      r1, GNTTABOP_UNMAP
        mov     r2, r9
        hypercall
        call    signal
        call    wait_event
        call    map                     ; the grant is revoked now
        li      r4, 0
        bge     r0, r4, fail
        neg     r9, r0
        call    signal
        mov     r2, r9
        jmp     shutdown
fail:   li      r2, 99
        jmp     shutdown

; map grant ref 0 of domain 0 at MAP_VA; r0 = handle or -errno
map:    li      r0, HC_GRANT_TABLE_OP
        li      r1, GNTTABOP_MAP
        li      r2, 0
        li      r3, 0
        li32    r4, MAP_VA
        li      r5, 0
        hypercall
        ret

; send on my port
signal: li      r0, HC_EVENT_CHANNEL_OP
        li      r1, EVTCHNOP_SEND
        la      r2, myport
        ldw     r2, [r2]
        hypercall
        ret

; block until my port is pending, then clear it (polling the shared-info page: no callback)
wait_event:
        li      r0, HC_SCHED_OP
        li      r1, SCHEDOP_BLOCK
        hypercall
        li32    r1, SHARED_INFO
        la      r2, myport
        ldw     r2, [r2]
        li      r3, 1
        shl     r3, r3, r2
        ldw     r4, [r1+SI_EVTCHN_PENDING]
        and     r5, r4, r3
        li      r6, 0
        beq     r5, r6, wait_event
        not     r3, r3
        and     r4, r4, r3
        stw     r4, [r1+SI_EVTCHN_PENDING]
        stw     r6, [r1+SI_UPCALL_PENDING]
        ret

; r1 = machine frame mapping virtual address r1 (region 0 only): the L1 is the page after the
; directory in the read-only page-table mapping (abi: PV_PAGE_TABLES_VA)
frame_of:
        shri    r1, r1, 12
        shli    r1, r1, 2
        li32    r2, 0x403000
        add     r1, r1, r2
        ldw     r1, [r1]
        shri    r1, r1, 12
        ret

; copy one word from [r2] to [r1]
copy4:  ldw     r3, [r2]
        stw     r3, [r1]
        ret

; console_io(r2 = buffer, r3 = length)
print:  li      r0, HC_CONSOLE_IO
        li      r1, 0
        hypercall
        ret

shutdown:
        li      r0, HC_SCHED_OP
        li      r1, SCHEDOP_SHUTDOWN
        hypercall

ping:   .ascii  "ping"
pong:   .ascii  "pong"
        .align  4
myport: .word   0
        .org    0x8000, rw
shared: .ascii  "....\n"
        .org    0x9000, rw
gnttab: .space  32
