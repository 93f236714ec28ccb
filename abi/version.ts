/**
 * The ABI version, stated by every guest image and checked by the hypervisor at boot.
 * Rule (as Xen's __XEN_INTERFACE_VERSION__): additions bump the minor and keep the major; a change
 * that breaks an existing guest bumps the major. A guest built for a newer major than the host
 * knows is refused; older minors of the same major keep working.
 */
export const ABI_MAJOR = 1;
export const ABI_MINOR = 2;
// History: 1.0 the bare machine (image header); 1.1 the paravirtual hypercalls of
// abi/hypercalls.ts (set_trap_table ... event_channel_op, iret); 1.2 virtio_op (40) with
// EVTCHNSTAT_DEVICE, the iret frame validated (BF_FLAG_USER names its mode bits), and
// console_io read (CONSOLEIO_READ) with VIRQ_CONSOLE raised when console input arrives.
