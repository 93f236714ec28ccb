/**
 * The shared-info page: one page per domain, written by both the hypervisor and the guest, as
 * Xen's shared_info with its vcpu_info. Byte offsets, 32-bit little-endian words. Numbers only:
 * the guest build imports this file directly.
 *
 * Event delivery, as in Xen: to send on port p the hypervisor sets bit p of EVTCHN_PENDING; if
 * the bit was clear and bit p of EVTCHN_MASK is clear, it sets bit (p >> 5) of PENDING_SEL and
 * UPCALL_PENDING, and if UPCALL_MASK is 0 it enters the guest's event callback (an "upcall"),
 * setting UPCALL_MASK on the way in as an interrupt gate clears IF. The guest clears
 * UPCALL_PENDING, then scans PENDING_SEL and the pending words, clearing what it handles.
 * A 0->1 pending edge on a masked port is not delivered until the port is unmasked.
 * Masking events is a store to UPCALL_MASK: no hypercall, which is the paravirtual `cli`.
 */
export const SI_UPCALL_PENDING = 0;
export const SI_UPCALL_MASK = 4;
export const SI_PENDING_SEL = 8;
/** Virtual time (instructions) at the last entry into the guest from the hypervisor (a bounce, an upcall or a hypercall's return), low and high words. */
export const SI_TIME_LO = 12;
export const SI_TIME_HI = 16;
/** Number of event-channel ports per domain: 256, so 8 words per bitmap. */
export const EVTCHN_PORTS = 256;
export const EVTCHN_WORDS = EVTCHN_PORTS / 32;
export const SI_EVTCHN_PENDING = 32;
export const SI_EVTCHN_MASK = SI_EVTCHN_PENDING + EVTCHN_WORDS * 4;
export const SHARED_INFO_BYTES = SI_EVTCHN_MASK + EVTCHN_WORDS * 4;
