/**
 * The fuzz suite can fail: each check it relies on is shown catching a host broken on purpose.
 * A healthy rig passes; then one thing is broken the way a hypervisor bug would break it (a
 * frame given to the wrong owner, a page table left writable, a count off by one, a grant
 * mapping of a frame that is not granted, data left in a free frame, a byte of the victim's
 * memory changed, an unnamed file rewritten), and the checker names it.
 */
import { lstatSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAGE_SHIFT, PTE_P, PTE_U, PTE_W } from '../../abi/isa.ts';
import { checkHost, domainDigest, hostViolations, sharedFrames } from './invariants.ts';
import { listing, makeWorkdir } from './cli-props.ts';
import { pvRig } from './pv-props.ts';

/** An entry of A's extra L1 (pvRig) that maps nothing yet. */
const freeSlot = 7;

describe('the invariant checker catches a broken host', () => {
  it('passes a healthy host', () => {
    expect(hostViolations(pvRig().host)).toEqual([]);
  });

  it("a frame handed to another owner behind the frame table's back", () => {
    const { host, b } = pvRig();
    const f = host.frames.owner.findIndex((o) => o === b.id + 1);
    host.frames.owner[f] = 1; // domain 0, A
    expect(() => checkHost(host)).toThrow(/owns \d+ frames but counts/);
  });

  it('a page table mapped writable (the one thing direct paging exists to prevent)', () => {
    const { host, l1 } = pvRig();
    // A writable entry naming the L1 itself, written straight into memory, counts adjusted so
    // that only the rule is broken.
    host.mem.i32[((l1 << PAGE_SHIFT) >>> 2) + freeSlot] = ((l1 << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U) >>> 0;
    host.frames.refs[l1]! += 1;
    host.frames.writable[l1]! += 1;
    expect(hostViolations(host)).toEqual([`page table ${l1} has 1 writable mapping(s)`]);
  });

  it('a reference count that does not match the tables', () => {
    const { host, a } = pvRig();
    const f = a.access.translate(0x10000, false) >>> PAGE_SHIFT;
    host.frames.refs[f]! += 1;
    expect(() => checkHost(host)).toThrow(new RegExp(`frame ${f}: refs \\d+, the tables hold`));
  });

  it("an entry mapping another domain's frame that is not a grant mapping", () => {
    const { host, b, l1 } = pvRig();
    const theirs = b.access.translate(0x10000, false) >>> PAGE_SHIFT;
    host.mem.i32[((l1 << PAGE_SHIFT) >>> 2) + freeSlot] = ((theirs << PAGE_SHIFT) | PTE_P | PTE_U) >>> 0;
    host.frames.refs[theirs]! += 1;
    expect(() => checkHost(host)).toThrow(/maps frame \d+ of owner 2, not a grant mapping/);
  });

  it('a grant mapping whose frame left its granter', () => {
    const { host, a, granted } = pvRig();
    const m = a.grantMaps.find((x) => x !== null)!;
    m.frame = granted[1]! + 1;
    expect(() => checkHost(host)).toThrow(/grant mapping 0/);
  });

  it('a hypervisor reference dropped (the shared-info page could then become a page table)', () => {
    const { host, a } = pvRig();
    host.frames.hvRefs[a.evtchn.sharedInfo >>> PAGE_SHIFT]! -= 1;
    expect(() => checkHost(host)).toThrow(/hvRefs 0, expected 1/);
  });

  it('data left behind in a free frame', () => {
    const { host } = pvRig();
    const f = host.frames.owner.findIndex((o, i) => i > 0 && o === 0);
    host.mem.u8[(f << PAGE_SHIFT) + 100] = 0x5a;
    expect(hostViolations(host)).toEqual([`free frame ${f} holds data (word 25 = 0x5a)`]);
  });

  it("one byte of the victim's memory changed", () => {
    const { host, b } = pvRig();
    const shared = sharedFrames(host, b);
    const before = domainDigest(host, b, shared);
    const f = host.frames.owner.findIndex((o, i) => o === b.id + 1 && !shared.has(i));
    host.mem.u8[(f << PAGE_SHIFT) + 4095]! ^= 0x80;
    expect(domainDigest(host, b, shared)).not.toBe(before);
  });
});

describe('the file check of the command-line fuzz catches a rewritten file', () => {
  it('sees a changed byte, a replaced file and debris', () => {
    const dir = makeWorkdir();
    try {
      const before = listing(dir);
      writeFileSync(path.join(dir, 'prog.s'), 'changed');
      writeFileSync(path.join(dir, '.out.img.1234.tmp'), 'debris');
      rmSync(path.join(dir, 'link.img'));
      writeFileSync(path.join(dir, 'link.img'), 'no longer a symlink');
      const after = listing(dir);
      expect(after.get(path.join(dir, 'prog.s'))).not.toBe(before.get(path.join(dir, 'prog.s')));
      expect(before.get(path.join(dir, 'link.img'))).toBe('symlink');
      expect(after.get(path.join(dir, 'link.img'))).toMatch(/^file/);
      expect(before.has(path.join(dir, '.out.img.1234.tmp'))).toBe(false);
      expect(after.has(path.join(dir, '.out.img.1234.tmp'))).toBe(true);
      expect(lstatSync(path.join(dir, 'devnull')).isSymbolicLink()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
