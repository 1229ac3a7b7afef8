/** BaGPipe BGP REST client: attach/detach endpoints and read the looking glass. */
export {
  BagpipeClient,
  type BagpipeClientOptions,
  type CallOptions,
  DEFAULT_TIMEOUT_MS,
  type EndpointQuery,
  type InstanceDataplane,
} from "./client.ts";
export { BagpipeError, type BagpipeFailure } from "./errors.ts";
export type {
  AttachedEndpoint,
  BgpPeer,
  VpnInstanceDetail,
  VpnInstanceSummary,
} from "./looking_glass.ts";
export type { AttachRequest, DetachRequest, Readvertise } from "./requests.ts";
