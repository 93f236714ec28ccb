/**
 * usertests: pages (SYS_MAP, SYS_UNMAP) and tasks that fault. Each fault runs in a child program
 * (faultpage, touchunmap, faultpriv, faultdiv, faultkern, faultovf, faultstack) whose run-time
 * error reporter prints one line on fd 2 and exits with FAULT_STATUS; the parent checks the status
 * and goes on.
 */
import { FAULT_STATUS, MAP_MAX_PAGES, USER_BASE, USER_MAP_BASE, USER_MAP_END } from '../../syscall-abi.ts';
import { map, unmap } from '../lib/sys.ts';
import { expectChild, expectEq, expectFail, failGot } from './check.ts';

const PAGE = 4096;
/** This file's tests map pages here and unmap them before they return. */
const VA = USER_MAP_BASE + 0x00100000;

/** Map 4 pages: zeroed, writable, each its own; unmap; map again: zeroed again. */
export function testMapBasic(): boolean {
  for (let round = 0; round < 2; round++) {
    const m = map(VA, 4);
    if (m !== 0) return failGot('map 4 pages', m);
    for (let p = 0; p < 4; p++) {
      const a = VA + p * PAGE;
      if (load32(a) !== 0 || load32(a + PAGE - 4) !== 0) return failGot('a fresh page is not zero: page', p);
      store32(a, 0x1234 + p);
      store8(a + PAGE - 1, p + 1);
    }
    for (let p = 0; p < 4; p++) {
      const a = VA + p * PAGE;
      if (load32(a) !== 0x1234 + p || load8(a + PAGE - 1) !== p + 1) return failGot('page content: page', p);
    }
    const u = unmap(VA, 4);
    if (u !== 0) return failGot('unmap 4 pages', u);
  }
  return true;
}

/** Bad maps and unmaps: errors, and nothing changed. */
export function testMapBadArgs(): boolean {
  const m = map(VA, 1);
  if (m !== 0) return failGot('map 1 page', m);
  const ok =
    expectFail(map(VA, 1), 'map over a mapped page') &&
    expectFail(map(VA - PAGE, 2), 'map over a mapped page, from below') &&
    expectFail(map(VA + 8, 1), 'map at an unaligned address') &&
    expectFail(map(USER_BASE, 1), 'map over the program image') &&
    expectFail(map(0x1000, 1), 'map in the kernel') &&
    expectFail(map(USER_MAP_END, 1), 'map at the end of the region') &&
    expectFail(map(USER_MAP_END - PAGE, 2), 'map across the end of the region') &&
    expectFail(map(USER_MAP_BASE, MAP_MAX_PAGES + 1), 'map MAP_MAX_PAGES + 1') &&
    expectFail(map(USER_MAP_BASE, -1), 'map -1 pages') &&
    expectFail(unmap(VA + PAGE, 1), 'unmap a page not mapped') &&
    expectFail(unmap(VA + 4, 1), 'unmap at an unaligned address') &&
    expectFail(unmap(0x1000, 1), 'unmap in the kernel') &&
    expectFail(unmap(USER_BASE, 1), 'unmap the program image');
  store32(VA, 99); // still mapped, still ours
  const u = unmap(VA, 1);
  return ok && expectEq(u, 0, 'unmap 1 page');
}

/** unmap of a range with a hole: -EINVAL and nothing unmapped. */
export function testUnmapPartial(): boolean {
  const m = map(VA, 2);
  if (m !== 0) return failGot('map 2 pages', m);
  store32(VA, 5);
  store32(VA + PAGE, 6);
  const bad = unmap(VA, 3);
  const still = load32(VA) === 5 && load32(VA + PAGE) === 6; // faults here if they were unmapped
  const u = unmap(VA, 2);
  return expectFail(bad, 'unmap of 3 pages, 2 mapped') && expectEq(still ? 1 : 0, 1, 'pages kept') && expectEq(u, 0, 'unmap 2 pages');
}

const MANY = 64;

/** 64 pages in one call, each touched, then unmapped in one call. */
export function testMapMany(): boolean {
  const m = map(VA, MANY);
  if (m !== 0) return failGot('map 64 pages', m);
  for (let p = 0; p < MANY; p++) store32(VA + p * PAGE + 4 * (p & 63), p + 1);
  let sum = 0;
  for (let p = 0; p < MANY; p++) sum += load32(VA + p * PAGE + 4 * (p & 63));
  const u = unmap(VA, MANY);
  return expectEq(sum, (MANY * (MANY + 1)) / 2, 'sum of the words') && expectEq(u, 0, 'unmap 64 pages');
}

export function testFaultUnmapped(): boolean {
  return expectChild('faultpage', '', FAULT_STATUS, 'status of faultpage (load from an unmapped page)');
}

export function testFaultAfterUnmap(): boolean {
  return expectChild('touchunmap', '', FAULT_STATUS, 'status of touchunmap (store after unmap)');
}

export function testFaultPrivileged(): boolean {
  return (
    expectChild('faultpriv', 'cli', FAULT_STATUS, 'status of faultpriv cli') &&
    expectChild('faultpriv', 'in', FAULT_STATUS, 'status of faultpriv in') &&
    expectChild('faultpriv', 'out', FAULT_STATUS, 'status of faultpriv out') &&
    expectChild('faultpriv', 'hlt', FAULT_STATUS, 'status of faultpriv hlt') &&
    expectChild('faultpriv', 'cr', FAULT_STATUS, 'status of faultpriv cr')
  );
}

export function testFaultDivide(): boolean {
  return expectChild('faultdiv', '0', FAULT_STATUS, 'status of faultdiv 0') && expectChild('faultdiv', '5', 20, 'status of faultdiv 5');
}

export function testFaultKernel(): boolean {
  return (
    expectChild('faultkern', 'write', FAULT_STATUS, 'status of faultkern write') &&
    expectChild('faultkern', 'read', FAULT_STATUS, 'status of faultkern read')
  );
}

export function testFaultOverflow(): boolean {
  return (
    expectChild('faultovf', '2147483647', FAULT_STATUS, 'status of faultovf 2147483647') &&
    expectChild('faultovf', '5', 6, 'status of faultovf 5')
  );
}

export function testFaultStack(): boolean {
  return expectChild('faultstack', '', FAULT_STATUS, 'status of faultstack (unbounded recursion)');
}
