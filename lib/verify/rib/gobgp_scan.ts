/**
 * The fast way through a GoBGP table (gobgp.ts has the format): reads the file's bytes with
 * JsonReader straight into routes, stepping over what is not used (the copy of the NLRI in
 * attribute 14's `value` is a third of the file). A 100,000-route table is ~70 MB, and
 * `JSON.parse` of it, with the garbage collection of its millions of values, was most of what
 * `--rib` cost.
 *
 * The scan takes only the table as GoBGP prints it. Anything else — not JSON, a repeated key,
 * a value of an unexpected kind, a route GoBGP would refuse — makes it give up (`Unusual`),
 * and the caller parses the document in full with `gobgpPathRoute`, which says what is
 * wrong. Both ways give the same routes (tests/verify_rib_test.ts compares them).
 */
import { JSON_BYTES, JsonReader, keyNames } from "./json_reader.ts";
import type { SnapshotRoute } from "./route.ts";

const { OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COLON, QUOTE } = JSON_BYTES;

/** The scan gives up: the full parse decides. */
class Unusual extends Error {}

function giveUp(what: string): never {
  throw new Unusual(what);
}

/** Members of an object, each key looked up in `names`; `read(i)` reads member `i`'s value
 * (-1: a key not in `names`, whose value it must step over). A repeated key gives up. */
function members(r: JsonReader, names: readonly Uint8Array[], read: (i: number) => void): void {
  if (r.open(OPEN_OBJECT, CLOSE_OBJECT)) return;
  let seen = 0;
  do {
    const i = r.keyIndex(names);
    r.expect(COLON, "':'");
    if (i >= 0) {
      if (seen & (1 << i)) giveUp("a repeated key");
      seen |= 1 << i;
    }
    read(i);
  } while (r.more(CLOSE_OBJECT));
}

function elements(r: JsonReader, read: () => void): void {
  if (r.open(OPEN_ARRAY, CLOSE_ARRAY)) return;
  do read(); while (r.more(CLOSE_ARRAY));
}

function str(r: JsonReader): string {
  if (r.peek() !== QUOTE) giveUp("not a string");
  return r.string();
}

function num(r: JsonReader): number {
  const c = r.peek();
  if (c !== 0x2d && (c < 0x30 || c > 0x39)) giveUp("not a number");
  return r.number();
}

/** What a path says, as the scan reads it. */
class PathFields {
  nlriType = -1;
  hasValue = false;
  rdAdmin: string | undefined;
  rdAssigned: number | undefined;
  etag = 0;
  mac: string | undefined;
  ip: string | undefined;
  label: number | undefined;
  hasAttrs = false;
  withdrawal = false;
  nextHop: string | undefined;
  seen14 = false;
  seen16 = false;
  seen22 = false;
  routeTargets: string[] = [];
  mobility: SnapshotRoute["mobility"];
  pmsiLabel: number | undefined;
  tunnelId: string | undefined;
}

const PATH = keyNames("nlri", "attrs", "withdrawal");
const NLRI = keyNames("type", "value");
const VALUE = keyNames("rd", "etag", "mac", "ip", "labels");
const RD = keyNames("admin", "assigned");
const ATTR = keyNames("type");
// Each used attribute's members, then "type" again (a repeat gives up).
const REACH = keyNames("nexthop", "type");
const COMMUNITIES = keyNames("value", "type");
const PMSI = keyNames("label", "tunnel-id", "type");
const COMMUNITY = keyNames("type", "subtype", "value", "sequence", "is_sticky");

function readValue(r: JsonReader, f: PathFields): void {
  f.hasValue = true;
  members(r, VALUE, (i) => {
    if (i === 0) {
      members(r, RD, (j) => {
        if (j === 0) f.rdAdmin = str(r);
        else if (j === 1) f.rdAssigned = num(r);
        else r.skip();
      });
    } else if (i === 1) f.etag = num(r);
    else if (i === 2) f.mac = str(r);
    else if (i === 3) f.ip = str(r);
    else if (i === 4) {
      let first = true;
      elements(r, () => {
        const n = num(r);
        if (first) f.label = n;
        first = false;
      });
    } else r.skip();
  });
}

function readCommunities(r: JsonReader, f: PathFields): void {
  elements(r, () => {
    let type: number | undefined;
    let subtype: number | undefined;
    let value: string | undefined;
    let sequence: number | undefined;
    let sticky = false;
    members(r, COMMUNITY, (i) => {
      if (i === 0) type = num(r);
      else if (i === 1) subtype = num(r);
      else if (i === 2 && r.peek() === QUOTE) value = r.string();
      else if (i === 3) sequence = num(r);
      else if (i === 4) sticky = r.boolean();
      else r.skip();
    });
    if (subtype === 2 && value !== undefined) f.routeTargets.push(value);
    if (type === 6 && subtype === 0 && !f.mobility) {
      f.mobility = { sequence: sequence ?? 0, sticky };
    }
  });
}

/** One attribute: its `type` must come first (as GoBGP prints it); only the first of each
 * used type counts, as in `gobgpPathRoute`. */
function readAttr(r: JsonReader, f: PathFields): void {
  if (r.open(OPEN_OBJECT, CLOSE_OBJECT)) giveUp("an attribute without a type");
  if (r.keyIndex(ATTR) !== 0) giveUp("an attribute whose type is not first");
  r.expect(COLON, "':'");
  const type = num(r);
  const first = (type === 14 && !f.seen14) || (type === 16 && !f.seen16) ||
    (type === 22 && !f.seen22);
  if (!first) {
    while (r.more(CLOSE_OBJECT)) {
      if (r.keyIndex(ATTR) === 0) giveUp("a repeated key");
      r.expect(COLON, "':'");
      r.skip();
    }
    return;
  }
  const names = type === 14 ? REACH : type === 16 ? COMMUNITIES : PMSI;
  let seen = 0;
  while (r.more(CLOSE_OBJECT)) {
    const key = r.keyIndex(names);
    r.expect(COLON, "':'");
    if (key === names.length - 1) giveUp("a repeated key");
    if (key >= 0) {
      if (seen & (1 << key)) giveUp("a repeated key");
      seen |= 1 << key;
    }
    if (type === 14 && key === 0) f.nextHop = str(r);
    else if (type === 16 && key === 0) {
      if (r.peek() !== OPEN_ARRAY) giveUp("communities not a list");
      readCommunities(r, f);
    } else if (type === 22 && key === 0) f.pmsiLabel = num(r);
    else if (type === 22 && key === 1) f.tunnelId = str(r);
    else r.skip();
  }
  if (type === 14) f.seen14 = true;
  else if (type === 16) f.seen16 = true;
  else f.seen22 = true;
}

function readPath(r: JsonReader): PathFields {
  const f = new PathFields();
  if (r.peek() !== OPEN_OBJECT) giveUp("a path that is not an object");
  members(r, PATH, (i) => {
    if (i === 0) {
      members(r, NLRI, (j) => {
        if (j === 0) f.nlriType = num(r);
        else if (j === 1) {
          if (r.peek() !== OPEN_OBJECT) giveUp("nlri.value is not an object");
          readValue(r, f);
        } else r.skip();
      });
    } else if (i === 1) {
      f.hasAttrs = true;
      if (r.peek() !== OPEN_ARRAY) giveUp("attrs is not a list");
      elements(r, () => {
        if (r.peek() !== OPEN_OBJECT) giveUp("an attribute that is not an object");
        readAttr(r, f);
      });
    } else if (i === 2) f.withdrawal = r.boolean();
    else r.skip();
  });
  return f;
}

/** The route of a path as `gobgpPathRoute` makes it; gives up where that one throws. */
function pathRoute(f: PathFields): SnapshotRoute | "other" | undefined {
  if (f.nlriType < 0 || !f.hasAttrs) giveUp("a path without nlri and attrs");
  if (f.withdrawal) return undefined;
  if (!f.hasValue) giveUp("nlri without a value");
  if (f.nlriType !== 2 && f.nlriType !== 3) return "other";
  if (f.nextHop === undefined) giveUp("no next hop");
  if (f.rdAdmin === undefined || f.rdAssigned === undefined) giveUp("no rd");
  const base = {
    rd: `${f.rdAdmin}:${f.rdAssigned}`,
    ethernetTag: f.etag,
    routeTargets: f.routeTargets,
  };
  if (f.nlriType === 2) {
    if (f.label === undefined || f.mac === undefined) giveUp("no label or MAC");
    const ip = f.ip !== undefined && f.ip !== "<nil>" && f.ip !== "" ? f.ip : undefined;
    return {
      ...base,
      type: 2,
      mac: f.mac,
      ip,
      nextHop: f.nextHop,
      vni: f.label,
      mobility: f.mobility,
    };
  }
  if (f.ip === undefined || f.pmsiLabel === undefined) giveUp("no originator or PMSI label");
  return {
    ...base,
    type: 3,
    originator: f.ip,
    nextHop: f.nextHop,
    pmsiEndpoint: f.tunnelId,
    vni: f.pmsiLabel,
  };
}

/**
 * The routes of `bytes` (and `text`, the same decoded) when they are a GoBGP EVPN table as
 * GoBGP prints it; undefined otherwise (the caller then parses the document in full).
 */
export function scanGobgpRib(
  bytes: Uint8Array,
  text?: string,
): { routes: SnapshotRoute[]; skipped: number } | undefined {
  const r = new JsonReader(bytes, text);
  try {
    if (r.open(OPEN_OBJECT, CLOSE_OBJECT)) return undefined;
    const routes: SnapshotRoute[] = [];
    const keys = new Set<string>();
    let skipped = 0;
    do {
      // The test of `isGobgpRib`: every key a GoBGP route key, every value a list.
      if (!r.stringStartsWith("[type:")) return undefined;
      // A repeated key: JSON.parse keeps only its last value; the full parse does that.
      const key = r.string();
      if (keys.has(key)) return undefined;
      keys.add(key);
      r.expect(COLON, "':'");
      if (r.peek() !== OPEN_ARRAY) return undefined;
      elements(r, () => {
        const route = pathRoute(readPath(r));
        if (route === "other") skipped++;
        else if (route) routes.push(route);
      });
    } while (r.more(CLOSE_OBJECT));
    r.end();
    return { routes, skipped };
  } catch {
    // Unusual, JsonSyntaxError, or a stack too deep for a nested document.
    return undefined;
  }
}
