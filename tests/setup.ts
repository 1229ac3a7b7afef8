/**
 * Installs the Debian packages the tests and the demo need, when they are missing, and says
 * which. Run as root on a Debian machine (CI, a developer's VM).
 */
import { installPackages, missingPackages, TEST_PACKAGES } from "../lib/demo/debian_packages.ts";

/** Kept for callers of the old name: every package the test suite needs. */
export const REQUIRED_PACKAGES = TEST_PACKAGES;

if (import.meta.main) {
  const todo = await missingPackages(TEST_PACKAGES);
  if (todo.length === 0) {
    console.error("setup: all required Debian packages are installed");
  } else {
    console.error(`setup: installing missing Debian packages: ${todo.join(" ")}`);
    await installPackages(todo);
  }
}
