/** The node as the page's script reads it (`GET /api/node`): plain data, no markup. */
import type { CniLogStats } from "./cni_log_stats.ts";
import type { Health } from "./health.ts";
import type { NodeSnapshot } from "./node_agent.ts";

/** Builds the JSON view of a snapshot. */
export function nodeJson(snap: NodeSnapshot, log: CniLogStats, health: Health) {
  return {
    takenAt: snap.takenAt,
    health,
    daemon: { ...snap.daemon, error: snap.daemon.up ? undefined : snap.daemon.error },
    stateError: snap.stateError,
    peers: snap.state?.peers ?? [],
    instances: (snap.state?.instances ?? []).map((i) => {
      const seen = snap.check?.instances.find((c) => c.id === i.id);
      return {
        id: i.id,
        vni: i.vni,
        bridge: seen?.bridge,
        vxlan: seen?.vxlan,
        importRts: i.importRts,
        exportRts: i.exportRts,
        ports: i.ports.length,
        routes: [
          ...i.received.map((r) => ({ direction: "received", ...r })),
          ...i.advertised.map((r) => ({ direction: "advertised", ...r })),
        ].map((r) => ({
          direction: r.direction,
          type: r.type,
          mac: r.mac,
          ip: r.ip,
          vni: r.vni,
          vtep: r.nextHop,
        })),
      };
    }),
    attachments: snap.records.map((r) => ({
      pod: `${r.containerId}/${r.ifname}`,
      network: r.network,
      instance: r.instanceId,
      mac: r.mac,
      ips: r.ips,
      hostVeth: r.hostVeth,
      createdAt: r.createdAt,
    })),
    brokenRecords: snap.brokenRecords,
    recordsError: snap.recordsError,
    drift: { error: snap.checkError, findings: snap.check?.findings ?? [] },
    log: { ...snap.log, requests: log.recent.slice(-20).reverse() },
  };
}
