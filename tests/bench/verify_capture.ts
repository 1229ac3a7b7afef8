/**
 * Generates a large fabric capture for the verify benchmark: N VTEPs peering with a route
 * reflector, pods advertised as EVPN MAC/IP + IMET routes, route churn and keepalives making
 * 10% of the packets, and ping traffic between advertised pods making the other 90%.
 * Written as pcap in 8 MiB pieces, so generating 4M packets needs little memory.
 */
import {
  bgpEvpnUpdate,
  bgpKeepalive,
  bgpOpen,
  ether,
  evpn,
  ext,
  innerPing,
  ipv4,
  pmsiIngressReplication,
  rd,
  TCP,
  tcp,
  udp,
  vxlan,
} from "../fixtures/verify/packets.ts";

const RR = "10.250.0.100";
const VNI = 16;
const NODES = 8;
const PODS_PER_NODE = 64;
/** Pods per node that restart (withdraw, re-advertise) and never carry traffic. */
const CHURNERS_PER_NODE = 8;

const node = (n: number) => `10.250.0.${n + 1}`;
const podMac = (n: number, p: number) =>
  `02:27:00:00:${n.toString(16).padStart(2, "0")}:${p.toString(16).padStart(2, "0")}`;
const podIp = (n: number, p: number) => `10.27.${n}.${p + 1}`;

function macIpNlri(n: number, p: number): number[] {
  return evpn.macIp(rd.ip(node(n), 0), podMac(n, p), podIp(n, p), VNI);
}

function advertise(n: number, nlris: number[][]): Uint8Array {
  return bgpEvpnUpdate({
    nextHop: node(n),
    reach: nlris,
    communities: [ext.encap(8), ext.rtAs2(64512, 90)],
  });
}

function imet(n: number): Uint8Array {
  return bgpEvpnUpdate({
    nextHop: node(n),
    reach: [evpn.imet(rd.ip(node(n), 0), node(n))],
    pmsi: pmsiIngressReplication(VNI, node(n)),
    communities: [ext.encap(8), ext.rtAs2(64512, 90)],
  });
}

interface Session {
  n: number;
  port: number;
  seqNode: number;
  seqRr: number;
}

/** Produces BGP packets (IPv4 packets) in protocol order, forever. */
class BgpTraffic {
  readonly sessions: Session[] = [];
  private queue: Uint8Array[] = [];
  private churnState: boolean[] = [];
  private next = 0;

  constructor() {
    for (let n = 0; n < NODES; n++) {
      this.sessions.push({ n, port: 40000 + n, seqNode: 1000, seqRr: 9000 });
    }
    for (const s of this.sessions) this.establish(s);
    for (let n = 0; n < NODES; n++) {
      this.fromNode(n, imet(n));
      for (let p = 0; p < PODS_PER_NODE; p += 8) {
        const nlris = [];
        for (let q = p; q < p + 8; q++) nlris.push(macIpNlri(n, q));
        this.fromNode(n, advertise(n, nlris));
      }
    }
    this.churnState = Array(NODES * CHURNERS_PER_NODE).fill(true);
  }

  /** Packets needed before any VXLAN frame is consistent. */
  get initialPackets(): number {
    return this.queue.length;
  }

  private segment(s: Session, fromNode: boolean, flags: number, payload: Uint8Array): void {
    const [src, dst, sp, dp, seq, ack] = fromNode
      ? [node(s.n), RR, s.port, 179, s.seqNode, s.seqRr]
      : [RR, node(s.n), 179, s.port, s.seqRr, s.seqNode];
    this.queue.push(ipv4(src, dst, 6, tcp(sp, dp, seq, ack, flags, payload)));
    if (fromNode) s.seqNode += payload.length;
    else s.seqRr += payload.length;
  }

  private establish(s: Session): void {
    this.segment(s, true, TCP.SYN, new Uint8Array());
    s.seqNode++;
    this.segment(s, false, TCP.SYN | TCP.ACK, new Uint8Array());
    s.seqRr++;
    this.segment(s, true, TCP.ACK, new Uint8Array());
    this.segment(s, false, TCP.PSH | TCP.ACK, bgpOpen(64512, RR));
    this.segment(s, true, TCP.PSH | TCP.ACK, bgpOpen(64512, node(s.n)));
    this.segment(s, false, TCP.PSH | TCP.ACK, bgpKeepalive());
    this.segment(s, true, TCP.PSH | TCP.ACK, bgpKeepalive());
  }

  /** A node's UPDATE, the reflector's ACK, the reflected copies and their ACKs. */
  private fromNode(n: number, msg: Uint8Array): void {
    const s = this.sessions[n];
    this.segment(s, true, TCP.PSH | TCP.ACK, msg);
    this.segment(s, false, TCP.ACK, new Uint8Array());
    for (const o of this.sessions) {
      if (o.n === n) continue;
      this.segment(o, false, TCP.PSH | TCP.ACK, msg);
      this.segment(o, true, TCP.ACK, new Uint8Array());
    }
  }

  private refill(): void {
    const k = this.next++;
    if (k % 4 === 3) {
      // Keepalives both ways on one session, with ACKs.
      const s = this.sessions[k % NODES];
      this.segment(s, true, TCP.PSH | TCP.ACK, bgpKeepalive());
      this.segment(s, false, TCP.PSH | TCP.ACK, bgpKeepalive());
      this.segment(s, true, TCP.ACK, new Uint8Array());
      return;
    }
    // A churning pod restarts: withdrawn, later advertised again.
    const c = k % this.churnState.length;
    const n = Math.floor(c / CHURNERS_PER_NODE);
    const p = PODS_PER_NODE - CHURNERS_PER_NODE + (c % CHURNERS_PER_NODE);
    const up = this.churnState[c];
    this.fromNode(
      n,
      up ? bgpEvpnUpdate({ unreach: [macIpNlri(n, p)] }) : advertise(n, [macIpNlri(n, p)]),
    );
    this.churnState[c] = !up;
  }

  /** The next BGP packet. */
  take(): Uint8Array {
    if (this.queue.length === 0) this.refill();
    return this.queue.shift()!;
  }
}

/** Precomputed VXLAN frames between stable pods on different nodes. */
function vxlanTemplates(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const stable = PODS_PER_NODE - CHURNERS_PER_NODE;
  for (let i = 0; out.length < count; i++) {
    const a = i % NODES;
    const b = (a + 1 + (i >> 3) % (NODES - 1)) % NODES;
    const pa = (i >> 3) % stable;
    const pb = ((i >> 3) * 31 + 7) % stable;
    const inner = innerPing(
      podMac(a, pa),
      podMac(b, pb),
      podIp(a, pa),
      podIp(b, pb),
      56 + (i % 3) * 8,
    );
    const u = udp(49152 + (i % 16000), 4789, vxlan(VNI, inner));
    out.push(ipv4(node(a), node(b), 17, u));
  }
  return out;
}

/** The MAC of the injected inconsistency and how many frames it sends. */
export const ROGUE_MAC = "02:66:00:00:00:01";
export const ROGUE_FRAMES = 5;

const ETH_HEADER = ether("52:54:00:00:00:02", "52:54:00:00:00:01", 0x0800, new Uint8Array());

/**
 * Writes `packets` frames to `path` (90% VXLAN, 10% BGP after the initial advertisements),
 * then `ROGUE_FRAMES` frames from `ROGUE_MAC`; returns the file size in bytes.
 */
export async function writeBenchCapture(path: string, packets: number): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(8 << 20);
  const view = new DataView(buf.buffer);
  let off = 0;
  let size = 0;
  const flush = async () => {
    let w = 0;
    while (w < off) w += await file.write(buf.subarray(w, off));
    size += off;
    off = 0;
  };
  try {
    const header = new Uint8Array(24);
    const hv = new DataView(header.buffer);
    hv.setUint32(0, 0xa1b2c3d4, true);
    hv.setUint16(4, 2, true);
    hv.setUint16(6, 4, true);
    hv.setUint32(16, 262144, true);
    hv.setUint32(20, 1, true);
    buf.set(header, 0);
    off = 24;
    const bgp = new BgpTraffic();
    const templates = vxlanTemplates(4096);
    let usec = 0;
    let sec = 1_764_000_000;
    const initial = bgp.initialPackets;
    for (let i = 0; i < packets; i++) {
      const ip = i < initial || i % 10 === 0
        ? bgp.take()
        : templates[(Math.imul(i, 2654435761) >>> 0) % templates.length];
      const len = ETH_HEADER.length + ip.length;
      if (off + 16 + len > buf.length) await flush();
      usec += 10;
      if (usec >= 1_000_000) {
        usec -= 1_000_000;
        sec++;
      }
      view.setUint32(off, sec, true);
      view.setUint32(off + 4, usec, true);
      view.setUint32(off + 8, len, true);
      view.setUint32(off + 12, len, true);
      buf.set(ETH_HEADER, off + 16);
      buf.set(ip, off + 16 + ETH_HEADER.length);
      off += 16 + len;
    }
    // Known inconsistency at the end: a pod MAC nobody advertised sends unicast (one error).
    const rogue = ipv4(
      node(0),
      node(1),
      17,
      udp(50000, 4789, vxlan(VNI, innerPing(ROGUE_MAC, podMac(1, 0), "10.27.0.250", podIp(1, 0)))),
    );
    for (let k = 0; k < ROGUE_FRAMES; k++) {
      const len = ETH_HEADER.length + rogue.length;
      if (off + 16 + len > buf.length) await flush();
      view.setUint32(off, sec + 1, true);
      view.setUint32(off + 4, k, true);
      view.setUint32(off + 8, len, true);
      view.setUint32(off + 12, len, true);
      buf.set(ETH_HEADER, off + 16);
      buf.set(rogue, off + 16 + ETH_HEADER.length);
      off += 16 + len;
    }
    await flush();
  } finally {
    file.close();
  }
  return size;
}
