/**
 * The node's health, by the plugin's STATUS rule (lib/plugin/bagpipe_backend.ts `status`): the
 * daemon answers and has an Established BGP peer. And its readiness for the DaemonSet's probe,
 * which asks less: only what is this node's own.
 */
import type { NodeSnapshot } from "./node_agent.ts";

/** Healthy or not, and why. */
export interface Health {
  healthy: boolean;
  reason: string;
}

/** Applies the STATUS rule to a snapshot. */
export function nodeHealth(snap: NodeSnapshot): Health {
  if (!snap.daemon.up) {
    return { healthy: false, reason: `daemon not answering: ${snap.daemon.error ?? "unknown"}` };
  }
  if (!snap.state) return { healthy: false, reason: `daemon unreadable: ${snap.stateError}` };
  const peers = snap.state.peers;
  if (!peers.some((p) => p.state === "Established")) {
    const states = peers.map((p) => `${p.id} ${p.state}`).join(", ") || "no peer configured";
    return { healthy: false, reason: `no Established BGP peer (${states})` };
  }
  return {
    healthy: true,
    reason: `daemon up, ${
      peers.filter((p) => p.state === "Established").length
    } peer(s) Established`,
  };
}

/**
 * Readiness: this node's own daemon answers. Not the BGP peers: a reflector outage is the whole
 * fabric's, and if it made every agent NotReady, a DaemonSet rollout (the fix, say) would stall
 * on the first node; /healthz and the metrics report it instead.
 */
export function nodeReadiness(snap: NodeSnapshot): Health {
  if (!snap.daemon.up) {
    return { healthy: false, reason: `daemon not answering: ${snap.daemon.error ?? "unknown"}` };
  }
  return { healthy: true, reason: "daemon answering" };
}
