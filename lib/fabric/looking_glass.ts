/** One entry of bagpipe-bgp's `GET /looking-glass/bgp/peers`. */
export interface BgpPeerState {
  id: string;
  state: string;
  href?: string;
}

/** Validates a `bgp/peers` answer; throws saying what was wrong with it. */
export function parseBgpPeers(body: unknown): BgpPeerState[] {
  if (!Array.isArray(body)) {
    throw new Error(`looking-glass bgp/peers is not a list: ${JSON.stringify(body)}`);
  }
  return body.map((entry) => {
    const peer = entry as Partial<BgpPeerState> | null;
    if (typeof peer?.id !== "string" || typeof peer.state !== "string") {
      throw new Error(`looking-glass bgp/peers entry lacks id/state: ${JSON.stringify(entry)}`);
    }
    return { id: peer.id, state: peer.state, href: peer.href };
  });
}

/** True when there is at least one peer and every peer is Established. */
export function allEstablished(peers: BgpPeerState[]): boolean {
  return peers.length > 0 && peers.every((peer) => peer.state === "Established");
}

/** "10.199.0.1=Idle, ..." for messages. */
export function describePeers(peers: BgpPeerState[]): string {
  return peers.length === 0 ? "no peers" : peers.map((p) => `${p.id}=${p.state}`).join(", ");
}
