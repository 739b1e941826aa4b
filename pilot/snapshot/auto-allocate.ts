// VIPs for ServiceEntry hosts without addresses, as Istio's DNS proxying allocates them (its
// hash-based allocator): 240.240.x.y from the key `namespace/host` by FNV-1a, with double hashing
// on collisions. Deterministic from the set of hosts alone, so every pilot replica and every
// snapshot agrees. Only proxies that capture DNS use these addresses: their DNS table answers
// with them and their TCP listeners bind them.
import type { Service } from "../model/service.ts";

/** Slots in 240.240.0.0/16 (Istio's 256*254). */
const MAX_IPS = 256 * 254;
/** The largest prime below MAX_IPS, for the second hash. */
const PRIME = 65011;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, "utf8")) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Whether a service gets an allocated address: a ServiceEntry host, no addresses, not a wildcard, not NONE. */
export function needsAutoAddress(s: Service): boolean {
  return (
    s.registry === "ServiceEntry" &&
    s.addresses.length === 0 &&
    !s.hostname.startsWith("*") &&
    s.resolution !== "NONE"
  );
}

/**
 * Allocates in the order given (Istio sorts by creation time; the first of two colliding hosts
 * keeps its slot). Returns the address per service object.
 */
export function autoAllocate(services: readonly Service[]): Map<Service, string> {
  const slots: (Service | undefined)[] = new Array(MAX_IPS);
  let allocated = 0;
  for (const svc of services) {
    if (!needsAutoAddress(svc)) continue;
    if (allocated >= MAX_IPS) break;
    const s = fnv1a32(`${svc.namespace}/${svc.hostname}`);
    const first = s % MAX_IPS;
    if (slots[first] === undefined) slots[first] = svc;
    else {
      const second = PRIME - (s % PRIME);
      for (let i = 1; ; i++) {
        // Go's uint32 arithmetic: the sum wraps at 2^32.
        const slot = ((s + Math.imul(i, second)) >>> 0) % (MAX_IPS - 1);
        if (slots[slot] === undefined) {
          slots[slot] = svc;
          break;
        }
      }
    }
    allocated++;
  }
  const out = new Map<Service, string>();
  const byKey = new Map<string, string>();
  let x = 0;
  for (const svc of slots) {
    x++;
    if (!svc) continue;
    // Never the .0 of a /24 above the first one (x % 255 == 0 would give 240.240.n.0).
    if (x % 255 === 0) x++;
    const key = `${svc.namespace}/${svc.hostname}`;
    let address = byKey.get(key);
    if (!address) {
      address = `240.240.${Math.floor(x / 255)}.${x % 255}`;
      byKey.set(key, address);
    }
    out.set(svc, address);
  }
  return out;
}
