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
import { type GobgpPathFields, gobgpRoute } from "./gobgp.ts";

const { OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COLON, QUOTE } = JSON_BYTES;

/** The scan gives up: the full parse decides. */
class Unusual extends Error {}

function giveUp(what: string): never {
  throw new Unusual(what);
}

/**
 * The members of an object, each key looked up in `names` (`index` -1: a key not in them,
 * whose value the caller steps over). A repeated key gives up. A loop over `next()` rather
 * than a callback per member: one call site per object kind, which the JIT inlines.
 */
class Members {
  index = -1;
  #seen = 0;
  #started = false;

  constructor(readonly r: JsonReader, public names: readonly Uint8Array[]) {}

  next(): boolean {
    const r = this.r;
    if (!this.#started) {
      this.#started = true;
      if (r.open(OPEN_OBJECT, CLOSE_OBJECT)) return false;
    } else if (!r.more(CLOSE_OBJECT)) return false;
    const i = r.keyIndex(this.names);
    r.expect(COLON, "':'");
    if (i >= 0) {
      if (this.#seen & (1 << i)) giveUp("a repeated key");
      this.#seen |= 1 << i;
    }
    this.index = i;
    return true;
  }
}

/** The elements of an array, as `Members` goes through an object. */
class Elements {
  #started = false;

  constructor(readonly r: JsonReader) {}

  next(): boolean {
    if (this.#started) return this.r.more(CLOSE_ARRAY);
    this.#started = true;
    return !this.r.open(OPEN_ARRAY, CLOSE_ARRAY);
  }
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
class PathFields implements GobgpPathFields {
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
// An attribute's "type" (first, as GoBGP prints it), then the members read of each type.
const OTHER_ATTR = keyNames("type");
const REACH = keyNames("type", "nexthop");
const COMMUNITIES = keyNames("type", "value");
const PMSI = keyNames("type", "label", "tunnel-id");
const COMMUNITY = keyNames("type", "subtype", "value", "sequence", "is_sticky");

function readValue(r: JsonReader, f: PathFields): void {
  f.hasValue = true;
  const m = new Members(r, VALUE);
  while (m.next()) {
    if (m.index === 0) {
      const rd = new Members(r, RD);
      while (rd.next()) {
        if (rd.index === 0) f.rdAdmin = str(r);
        else if (rd.index === 1) f.rdAssigned = num(r);
        else r.skip();
      }
    } else if (m.index === 1) f.etag = num(r);
    else if (m.index === 2) f.mac = str(r);
    else if (m.index === 3) f.ip = str(r);
    else if (m.index === 4) {
      const labels = new Elements(r);
      for (let first = true; labels.next(); first = false) {
        const n = num(r);
        if (first) f.label = n;
      }
    } else r.skip();
  }
}

function readCommunities(r: JsonReader, f: PathFields): void {
  const list = new Elements(r);
  while (list.next()) {
    let type: number | undefined;
    let subtype: number | undefined;
    let value: string | undefined;
    let sequence: number | undefined;
    let sticky = false;
    const m = new Members(r, COMMUNITY);
    while (m.next()) {
      if (m.index === 0) type = num(r);
      else if (m.index === 1) subtype = num(r);
      else if (m.index === 2 && r.peek() === QUOTE) value = r.string();
      else if (m.index === 3) sequence = num(r);
      else if (m.index === 4) sticky = r.boolean();
      else r.skip();
    }
    if (subtype === 2 && value !== undefined) f.routeTargets.push(value);
    if (type === 6 && subtype === 0 && !f.mobility) {
      f.mobility = { sequence: sequence ?? 0, sticky };
    }
  }
}

/** One attribute: its `type` must come first (as GoBGP prints it); only the first of each
 * used type counts, as in `gobgpPathRoute`. */
function readAttr(r: JsonReader, f: PathFields): void {
  const m = new Members(r, OTHER_ATTR);
  if (!m.next() || m.index !== 0) giveUp("an attribute whose type is not first");
  const type = num(r);
  if (type === 14 && !f.seen14) m.names = REACH;
  else if (type === 16 && !f.seen16) m.names = COMMUNITIES;
  else if (type === 22 && !f.seen22) m.names = PMSI;
  while (m.next()) {
    const i: number = m.index;
    if (m.names === REACH && i === 1) f.nextHop = str(r);
    else if (m.names === COMMUNITIES && i === 1) {
      if (r.peek() !== OPEN_ARRAY) giveUp("communities not a list");
      readCommunities(r, f);
    } else if (m.names === PMSI && i === 1) f.pmsiLabel = num(r);
    else if (m.names === PMSI && i === 2) f.tunnelId = str(r);
    else r.skip();
  }
  if (m.names === REACH) f.seen14 = true;
  else if (m.names === COMMUNITIES) f.seen16 = true;
  else if (m.names === PMSI) f.seen22 = true;
}

function readPath(r: JsonReader): PathFields {
  const f = new PathFields();
  if (r.peek() !== OPEN_OBJECT) giveUp("a path that is not an object");
  const m = new Members(r, PATH);
  while (m.next()) {
    if (m.index === 0) {
      const nlri = new Members(r, NLRI);
      while (nlri.next()) {
        if (nlri.index === 0) f.nlriType = num(r);
        else if (nlri.index === 1) {
          if (r.peek() !== OPEN_OBJECT) giveUp("nlri.value is not an object");
          readValue(r, f);
        } else r.skip();
      }
    } else if (m.index === 1) {
      f.hasAttrs = true;
      if (r.peek() !== OPEN_ARRAY) giveUp("attrs is not a list");
      const attrs = new Elements(r);
      while (attrs.next()) {
        if (r.peek() !== OPEN_OBJECT) giveUp("an attribute that is not an object");
        readAttr(r, f);
      }
    } else if (m.index === 2) f.withdrawal = r.boolean();
    else r.skip();
  }
  return f;
}

/** The route of a path, made as the full parse makes it; gives up where that one throws. */
function pathRoute(f: PathFields): SnapshotRoute | "other" | undefined {
  if (f.nlriType < 0 || !f.hasAttrs) giveUp("a path without nlri and attrs");
  return gobgpRoute(f, giveUp);
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
      const paths = new Elements(r);
      while (paths.next()) {
        const route = pathRoute(readPath(r));
        if (route === "other") skipped++;
        else if (route) routes.push(route);
      }
    } while (r.more(CLOSE_OBJECT));
    r.end();
    return { routes, skipped };
  } catch {
    // Unusual, JsonSyntaxError, or a stack too deep for a nested document.
    return undefined;
  }
}
