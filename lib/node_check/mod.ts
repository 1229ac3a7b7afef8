/** The node check: kernel forwarding state and plugin records against the node daemon's view. */
export {
  checkNode,
  checkNodeAgainst,
  DEFAULT_BAGPIPE_URL,
  DEFAULT_STATE_DIR,
  type InstanceSummary,
  type NodeCheckOptions,
  type NodeCheckReport,
} from "./check_node.ts";
export {
  countByKind,
  NODE_FINDING_KINDS,
  type NodeFinding,
  type NodeFindingKind,
} from "./findings.ts";
export { type CommandRunner, KernelReadError } from "./kernel_state.ts";
export { renderNodeReport } from "./report_text.ts";
export { type DaemonInstance, type DaemonState, readDaemonState } from "./daemon_state.ts";
