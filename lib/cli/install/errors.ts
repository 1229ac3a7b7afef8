/** How `install` fails: an error that carries the exit code it maps to. */

/** Exit codes of `install`. */
export const INSTALL_EXIT = {
  ok: 0,
  /** The conflist is invalid, or a file could not be written. */
  failed: 1,
  /** Bad or missing flags. */
  usage: 2,
  /** The conflist path holds a file install did not write (or one edited since): see --force. */
  refused: 3,
} as const;

/** A failure of install with the exit code it maps to. */
export class InstallError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "InstallError";
  }
}
