/** `--pod-cidr`: a node's share of the network, as host-local's range. */

/** ipam with host-local's gateway set to cidr's first address and rangeStart/rangeEnd to the rest. */
export function narrowRange(ipam: unknown, cidr: string): Record<string, unknown> {
  if (typeof ipam !== "object" || ipam === null || Array.isArray(ipam)) {
    throw new Error("the entry has no ipam object");
  }
  const conf = ipam as Record<string, unknown>;
  if (conf.type !== "host-local" || typeof conf.subnet !== "string") {
    throw new Error('needs ipam type "host-local" with a "subnet" (not "ranges")');
  }
  const pod = _parseCidr(cidr);
  const subnet = _parseCidr(conf.subnet);
  if (!pod) throw new Error("is not an IPv4 CIDR such as 10.27.3.0/24");
  if (pod.hostBits) {
    throw new Error(`has host bits set (the network is ${_ipv4(pod.base)}/${pod.len})`);
  }
  if (!subnet) throw new Error(`ipam.subnet ${conf.subnet} is not an IPv4 CIDR`);
  if (pod.len > 30) throw new Error("is too small for pods (at most /30)");
  const inside = pod.len >= subnet.len &&
    (pod.base & subnet.mask) >>> 0 === subnet.base;
  if (!inside) throw new Error(`does not lie inside ipam.subnet ${conf.subnet}`);
  const last = (pod.base | (~pod.mask >>> 0)) >>> 0;
  // The node's own gateway (on its bridge) is the first address of its share, so the pods' default
  // route points at their own node; host-local never hands it out, and rangeStart skips it too.
  return {
    ...conf,
    gateway: _ipv4(pod.base + 1),
    rangeStart: _ipv4(pod.base + 2),
    rangeEnd: _ipv4(last - 1),
  };
}

function _parseCidr(
  text: string,
): { base: number; len: number; mask: number; hostBits: boolean } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (octets.some((o) => o > 255) || len > 32) return undefined;
  const addr = octets.reduce((a, o) => (a * 256 + o) >>> 0, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (addr & mask) >>> 0, len, mask, hostBits: (addr & mask) >>> 0 !== addr };
}

function _ipv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
