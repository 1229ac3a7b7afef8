/** The two networks of the two-datacenter fabric's tests and its RTC bench. */
import type { Network } from "./cluster.ts";

/** Imported on nodes of both DCs. */
export const span: Network = {
  name: "span",
  instance: "span",
  rt: "64512:600",
  vni: 600,
  prefix: "10.40",
};

/** Imported only by DC1's nodes (until a DC2 node imports it). */
export const dc1only: Network = {
  name: "dc1only",
  instance: "dc1only",
  rt: "64512:601",
  vni: 601,
  prefix: "10.41",
};
