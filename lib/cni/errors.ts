/** CNI error codes (CNI spec §"Error"), plus our own from 100 up. */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimited: 51,
  /** A kernel operation (ip link/addr/route) on the pod's interfaces failed. */
  LinkSetupFailed: 100,
  /** The BaGPipe daemon answered, but refused the attachment. */
  BackendRejected: 101,
  /** The pod's interfaces or the daemon's view drifted from what ADD configured (CHECK). */
  StateDrifted: 102,
  /** A plugin named by the config (IPAM) is not on CNI_PATH. */
  DelegateNotFound: 103,
  Internal: 999,
} as const;

/** An error that reaches the container runtime as CNI error JSON with its code. */
export class CniError extends Error {
  constructor(readonly code: number, msg: string, readonly details?: string) {
    super(msg);
    this.name = "CniError";
  }
}

/** Wraps any failure as a CniError; untyped failures become 999 (internal), like skel does. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(ErrorCode.Internal, err.message);
  return new CniError(ErrorCode.Internal, String(err));
}

/** Prefixes the message with context while keeping code and details: `failed to X "obj": cause`. */
export function wrap(err: unknown, context: string): CniError {
  const e = toCniError(err);
  return new CniError(e.code, `${context}: ${e.message}`, e.details);
}
