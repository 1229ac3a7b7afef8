import type { Backend } from "./context.ts";

/**
 * `"backend": "none"`: the pod gets its veth and addresses and nothing is advertised. For
 * measuring the plugin's own cost and for troubleshooting a node without its daemon.
 */
export const noBackend: Backend = {
  bridgeFor: () => Promise.resolve(undefined),
  identityFor: () => Promise.resolve(undefined),
  attach: () => Promise.resolve(undefined),
  detach: () => Promise.resolve(),
  check: () => Promise.resolve(),
  status: () => Promise.resolve(),
  resyncIfRestarted: () => Promise.resolve(0),
};
