/** The agent's Prometheus metrics, built from a snapshot of the node and the plugin log's counters. */
import { NODE_FINDING_KINDS } from "../node_check/findings.ts";
import type { CniLogStats } from "./cni_log_stats.ts";
import type { NodeSnapshot } from "./node_agent.ts";
import { type MetricFamily, renderPrometheusText, type Sample } from "./prometheus_text.ts";

// Labels never say "instance": Prometheus gives every target an `instance` label of its own.

/** BGP FSM states, always exported (zero when no peer is in them) so alerts need no absent(). */
const PEER_STATES = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];

/** Renders every metric in the text format. */
export function renderMetrics(snap: NodeSnapshot, log: CniLogStats): string {
  return renderPrometheusText(metricFamilies(snap, log));
}

/** The metric families, in a stable order. */
export function metricFamilies(snap: NodeSnapshot, log: CniLogStats): MetricFamily[] {
  const errors: Sample[] = [...log.errors].map(([key, value]) => {
    const [command, code] = key.split("|");
    return { labels: { command: command!, code: code! }, value };
  });
  const perNetwork = new Map<string, { network: string; instance: string; n: number }>();
  for (const r of snap.records) {
    const key = `${r.network}|${r.instanceId}`;
    const entry = perNetwork.get(key) ?? { network: r.network, instance: r.instanceId, n: 0 };
    entry.n++;
    perNetwork.set(key, entry);
  }
  const peers = snap.state?.peers ?? [];
  const states = [...new Set([...PEER_STATES, ...peers.map((p) => p.state)])];
  const routes: Sample[] = (snap.state?.instances ?? []).flatMap((i) => [
    { labels: { vpn_instance: i.id, direction: "received" }, value: i.received.length },
    { labels: { vpn_instance: i.id, direction: "advertised" }, value: i.advertised.length },
  ]);
  const counts = snap.check?.counts;
  return [
    {
      name: "bagpipe_cni_request_duration_seconds",
      help: "CNI command durations from the plugin log, by command and result (success, error).",
      type: "histogram",
      samples: log.durations.samples(),
    },
    {
      name: "bagpipe_cni_request_errors_total",
      help: "CNI commands that failed, by command and CNI error code.",
      type: "counter",
      samples: errors,
    },
    {
      name: "bagpipe_cni_resyncs_total",
      help: "Re-attachments of the recorded pods after a daemon restart (from the plugin log).",
      type: "counter",
      samples: [{ value: log.resyncs }],
    },
    {
      name: "bagpipe_cni_resync_reattached_pods_total",
      help: "Pods re-attached by those resyncs.",
      type: "counter",
      samples: [{ value: log.reattachedPods }],
    },
    {
      name: "bagpipe_cni_log_file_present",
      help: "1 when the plugin's log file could be read at the last look, else 0.",
      type: "gauge",
      samples: [{ value: snap.log.present ? 1 : 0 }],
    },
    {
      name: "bagpipe_cni_log_lines_total",
      help: "Plugin log lines read (unreadable: not the plugin's JSON).",
      type: "counter",
      samples: [
        { labels: { kind: "read" }, value: log.lines },
        { labels: { kind: "unreadable" }, value: log.unreadableLines },
      ],
    },
    {
      name: "bagpipe_cni_log_rotations_total",
      help: "Times the plugin's log file was rotated or truncated under the agent.",
      type: "counter",
      samples: [
        { labels: { how: "rotated" }, value: snap.log.rotations },
        { labels: { how: "truncated" }, value: snap.log.truncations },
      ],
    },
    {
      name: "bagpipe_cni_attachments",
      help: "Pods attached on this node (attachment records), by network and VPN instance.",
      type: "gauge",
      samples: [...perNetwork.values()].map((e) => ({
        labels: { network: e.network, vpn_instance: e.instance },
        value: e.n,
      })),
    },
    {
      name: "bagpipe_cni_daemon_up",
      help: "1 when the node's bagpipe-bgp answers /ping.",
      type: "gauge",
      samples: [{ value: snap.daemon.up ? 1 : 0 }],
    },
    {
      name: "bagpipe_cni_daemon_restarts_total",
      help: "Daemon restarts seen by the agent (changes of its /ping identity).",
      type: "counter",
      samples: [{ value: snap.daemon.restarts }],
    },
    {
      name: "bagpipe_cni_bgp_peers",
      help: "The daemon's BGP peers by FSM state (all zero while the daemon is down).",
      type: "gauge",
      samples: states.map((state) => ({
        labels: { state },
        value: peers.filter((p) => p.state === state).length,
      })),
    },
    {
      name: "bagpipe_cni_evpn_routes",
      help: "EVPN routes per VPN instance, received from the fabric or advertised by this node.",
      type: "gauge",
      samples: routes,
    },
    {
      name: "bagpipe_cni_node_check_up",
      help: "1 when the last node check (kernel and records against the daemon) could run.",
      type: "gauge",
      samples: [{ value: snap.check ? 1 : 0 }],
    },
    {
      name: "bagpipe_cni_node_drift_findings",
      help: "Findings of the node check by kind (see bagpipe-cni verify --node).",
      type: "gauge",
      samples: counts
        ? NODE_FINDING_KINDS.map((kind) => ({ labels: { kind }, value: counts[kind] }))
        : [],
    },
  ];
}
