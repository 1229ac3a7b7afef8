//! Serialises a finished run as the JSON document described in lib/verify/SCHEMA.md.

use crate::bgp::esi::{self, EsiValue};
use crate::bgp::message::capability_name;
use crate::bgp::rd::{self, RdValue};
use crate::control_plane::Route;
use crate::dataplane::flow_key;
use crate::decoder::Decoder;
use crate::journal::{EventKind, Finding, Kind, ERROR, INFO, WARNING};
use crate::session::Session;
use crate::util::json::JsonWriter;
use crate::wire::capture::Format;

/// Version tag of the document; bump on incompatible changes.
pub const SCHEMA: &str = "bagpipe-cni.verify/2";

/// Writes the whole report.
pub fn write(d: &Decoder) -> JsonWriter {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_str("schema", SCHEMA);
    options(&mut w, d);
    capture(&mut w, d);
    summary(&mut w, d);
    sessions(&mut w, d);
    vteps(&mut w, d);
    routes(&mut w, d);
    withdrawals(&mut w, d);
    flows(&mut w, d);
    findings(&mut w, d);
    timeline(&mut w, d);
    decode_errors(&mut w, d);
    limits(&mut w, d);
    w.end_object();
    w
}

fn options(w: &mut JsonWriter, d: &Decoder) {
    w.begin_object_field("options");
    w.begin_array_field("vxlan_ports");
    for &p in d.opts.ports() {
        w.uint(p as u64);
    }
    w.end_array();
    w.field_uint("underlay_mtu", d.opts.underlay_mtu as u64);
    w.end_object();
}

fn capture(w: &mut JsonWriter, d: &Decoder) {
    let s = &d.stats;
    w.begin_object_field("capture");
    w.field("format");
    match d.reader.format {
        Format::Unknown => w.string("unknown"),
        Format::Pcap { kuznetsov: true, .. } => w.string("pcap-kuznetsov"),
        Format::Pcap { .. } => w.string("pcap"),
        Format::Pcapng => w.string("pcapng"),
    }
    let byte_order = match d.reader.format {
        Format::Pcap { big_endian, .. } => Some(if big_endian { "big" } else { "little" }),
        _ => None,
    };
    w.field_opt("byte_order", byte_order, JsonWriter::string);
    w.field("timestamp_resolution");
    match d.reader.format {
        Format::Pcap { nanos, .. } => w.string(if nanos { "ns" } else { "us" }),
        Format::Pcapng => w.string("per-interface"),
        Format::Unknown => w.null(),
    }
    w.begin_array_field("link_types");
    for &lt in d.reader.link_types.iter().take(d.reader.link_type_count) {
        w.uint(lt as u64);
    }
    w.end_array();
    w.field_uint("interfaces", d.reader.interfaces_seen as u64);
    w.field_uint("skipped_blocks", d.reader.skipped_blocks);
    w.field_uint("packets", s.packets);
    w.field_uint("input_bytes", s.input_bytes);
    w.field_uint("captured_bytes", s.captured_bytes);
    w.field_uint("truncated_packets", s.truncated);
    // Times are unknown until a packet arrived.
    let seen = s.packets != 0;
    w.field_opt("first_time", seen.then_some(s.first_ns), JsonWriter::seconds);
    w.field_opt("last_time", seen.then_some(s.last_ns), JsonWriter::seconds);
    w.field_opt("fatal_error", d.fatal, |w, e| {
        w.begin_object();
        w.field_str("what", e.what);
        w.field_str("why", e.why);
        w.field_uint("value", e.got);
        w.end_object();
    });
    w.begin_object_field("counters");
    let counters: [(&str, u64); 13] = [
        ("tcp", s.tcp),
        ("udp", s.udp),
        ("bgp_packets", s.bgp_packets),
        ("vxlan_packets", s.vxlan_packets),
        ("nested_vxlan", s.nested_vxlan),
        ("gre", s.gre),
        ("geneve", s.geneve),
        ("ip_fragments", s.ip_fragments),
        ("non_ip", s.non_ip),
        ("unsupported_link", s.unsupported_link),
        ("malformed", s.malformed),
        ("bad_udp_checksums", s.bad_checksums),
        ("withdrawals_unmatched", d.cp.withdrawals_unmatched),
    ];
    for (k, v) in counters {
        w.field_uint(k, v);
    }
    w.end_object();
    w.end_object();
}

fn summary(w: &mut JsonWriter, d: &Decoder) {
    let mut counts = [0u64; 3];
    for f in d.journal.findings.iter() {
        if let Some(c) = counts.get_mut(f.severity as usize) {
            *c += 1;
        }
    }
    let know = d.knowledge();
    w.begin_object_field("summary");
    w.field_uint("errors", counts[ERROR as usize]);
    w.field_uint("warnings", counts[WARNING as usize]);
    w.field_uint("infos", counts[INFO as usize]);
    w.field_bool("consistent", counts[ERROR as usize] == 0);
    w.field_bool("control_plane_seen", know.any_session);
    w.field_uint("partial_sessions_open", know.partial_live as u64);
    w.field_uint("sessions", d.sessions.len() as u64);
    w.field_uint("routes", d.cp.routes.len() as u64);
    w.field_uint("routes_active", d.cp.routes.iter().filter(|r| r.active).count() as u64);
    w.field_uint("flows", d.flows.flows.len() as u64);
    w.field_uint("snapshot_routes", d.snapshot_routes as u64);
    w.field_uint("withdrawals", d.cp.withdrawals_total());
    w.begin_array_field("unknown_route_types");
    for (t, &c) in d.cp.unknown_route_types.iter().enumerate() {
        if c > 0 {
            w.begin_object();
            w.field_uint("type", t as u64);
            w.field_uint("count", c);
            w.end_object();
        }
    }
    w.end_array();
    w.end_object();
}

fn endpoint(w: &mut JsonWriter, name: &'static str, ep: &([u8; 16], u16)) {
    w.begin_object_field(name);
    w.field_ip("address", &ep.0);
    w.field_uint("port", ep.1 as u64);
    w.end_object();
}

fn sessions(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("sessions");
    for (id, s) in d.sessions.iter().enumerate() {
        session(w, d, id, s);
    }
    w.end_array();
    w.begin_array_field("notifications");
    for n in d.notifications.iter() {
        w.begin_object();
        w.field_uint("session", n.session as u64);
        w.field_str("direction", dir_name(n.dir as usize));
        w.field_uint("packet", n.pkt);
        w.field_seconds("time", n.ns);
        w.field_uint("code", n.code as u64);
        w.field_uint("subcode", n.subcode as u64);
        let (c, sc) = crate::bgp::message::notification_name(n.code, n.subcode);
        w.field_str("code_name", c);
        w.field_str("subcode_name", sc);
        w.end_object();
    }
    w.end_array();
}

fn dir_name(d: usize) -> &'static str {
    if d == 0 {
        "client_to_server"
    } else {
        "server_to_client"
    }
}

fn session(w: &mut JsonWriter, _d: &Decoder, id: usize, s: &Session) {
    w.begin_object();
    w.field_uint("id", id as u64);
    endpoint(w, "client", &s.client);
    endpoint(w, "server", &s.server);
    w.field_uint("first_packet", s.first_pkt);
    w.field_uint("last_packet", s.last_pkt);
    w.field_seconds("first_time", s.first_ns);
    w.field_seconds("last_time", s.last_ns);
    w.field_bool("established", s.established);
    w.field_bool("partial", s.partial);
    w.field_opt("closed", s.closed, |w, (why, pkt, ns)| {
        w.begin_object();
        w.field_str("reason", why.name());
        w.field_uint("packet", pkt);
        w.field_seconds("time", ns);
        w.end_object();
    });
    w.begin_array_field("directions");
    for (di, dir) in s.dirs.iter().enumerate() {
        w.begin_object();
        w.field_str("direction", dir_name(di));
        w.field_opt("open", dir.open, |w, o| {
            w.begin_object();
            w.field_uint("packet", dir.open_pkt);
            w.field_uint("version", o.version as u64);
            w.field_uint("as", o.my_as as u64);
            w.field_uint("hold_time", o.hold_time as u64);
            w.field_ip("bgp_id", &crate::util::bytes::v4_mapped(o.bgp_id));
            w.begin_array_field("capabilities");
            for c in o.capabilities() {
                w.begin_object();
                w.field_uint("code", c.code as u64);
                w.field_str("name", capability_name(c.code));
                if c.code == 1 || c.code == 69 {
                    w.field_uint("afi", c.afi as u64);
                    w.field_uint("safi", c.safi as u64);
                }
                if c.code == 69 || c.code == 65 {
                    w.field_uint("value", c.value as u64);
                }
                w.end_object();
            }
            w.end_array();
            w.end_object();
        });
        // No OPEN captured: what the UPDATEs showed it would have said (null: not settled).
        let inferred = (dir.open.is_none() && dir.stream.started).then_some(dir);
        w.field_opt("inferred", inferred, |w, dir| {
            let known = |v: u8| (v != crate::session::NOT_YET).then_some(v == crate::session::YES);
            w.begin_object();
            w.field_opt("four_octet_as", known(dir.inferred_four_octet_as), JsonWriter::boolean);
            w.field_opt("add_path", known(dir.inferred_add_path), JsonWriter::boolean);
            w.end_object();
        });
        w.begin_object_field("messages");
        for (k, t) in [("open", 1usize), ("update", 2), ("notification", 3), ("keepalive", 4), ("route_refresh", 5)] {
            w.field_uint(k, dir.messages.get(t).copied().unwrap_or(0));
        }
        w.end_object();
        w.field_uint("evpn_advertised", dir.evpn_advertised);
        w.field_uint("evpn_withdrawn", dir.evpn_withdrawn);
        w.field_uint("other_family_updates", dir.other_families);
        w.field_uint("decode_errors", dir.decode_errors);
        w.field_bool("started_mid_stream", dir.stream.started && !dir.stream.from_start);
        w.field_uint("gaps", dir.stream.gaps as u64);
        w.field_uint("gap_bytes", dir.stream.gap_bytes);
        w.field_uint("retransmitted_bytes", dir.stream.retransmitted_bytes);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct VtepKey([u8; 16]);
impl crate::util::index_map::Key for VtepKey {
    fn hash64(&self) -> u64 {
        crate::util::index_map::hash_bytes(&self.0)
    }
}

#[derive(Clone, Copy, Default)]
struct VtepCounts {
    routes: u64,
    active: u64,
    macs: u64,
    sent: u64,
    received: u64,
}

fn vteps(w: &mut JsonWriter, d: &Decoder) {
    // VTEPs in first-seen order (routes, then flows), counted in one pass each. A brief
    // report lists only the VTEPs of the routes it lists (the text report groups those by
    // VTEP); a 100,000-route snapshot may name 50,000 VTEPs, whose JSON was 12 MB.
    let mut index = crate::util::index_map::IndexMap::new(1 << 20);
    let mut counts: Vec<VtepCounts> = Vec::new();
    if d.opts.brief {
        for r in d.cp.routes.iter().take(crate::decoder::BRIEF_ROUTES) {
            if let Some((_, true)) = index.find_or_insert(VtepKey(r.vtep())) {
                if !crate::util::bounded::try_push(&mut counts, VtepCounts::default(), 1 << 20) {
                    break;
                }
            }
        }
    }
    let brief = d.opts.brief;
    let mut slot = |v: [u8; 16], counts: &mut Vec<VtepCounts>| -> Option<usize> {
        if brief {
            return index.find(&VtepKey(v)).map(|id| id as usize);
        }
        let (id, new) = index.find_or_insert(VtepKey(v))?;
        if new && !crate::util::bounded::try_push(counts, VtepCounts::default(), 1 << 20) {
            return None;
        }
        Some(id as usize)
    };
    for r in d.cp.routes.iter() {
        if let Some(c) = slot(r.vtep(), &mut counts).and_then(|i| counts.get_mut(i)) {
            c.routes += 1;
            c.active += r.active as u64;
            c.macs += (r.active && r.nlri.route_type == 2) as u64;
        }
    }
    for f in d.flows.flows.iter() {
        if let Some(c) = slot(f.src_vtep, &mut counts).and_then(|i| counts.get_mut(i)) {
            c.sent += 1;
        }
        if let Some(c) = slot(f.dst_vtep, &mut counts).and_then(|i| counts.get_mut(i)) {
            c.received += 1;
        }
    }
    w.begin_array_field("vteps");
    for (i, c) in counts.iter().enumerate() {
        let v = match index.key(i as u32) {
            Some(k) => k.0,
            None => continue,
        };
        w.begin_object();
        w.field_ip("address", &v);
        w.field_uint("routes", c.routes);
        w.field_uint("routes_active", c.active);
        w.field_uint("mac_routes_active", c.macs);
        w.field_uint("flows_sent", c.sent);
        w.field_uint("flows_received", c.received);
        w.end_object();
    }
    w.end_array();
    w.begin_array_field("segments");
    for s in d.cp.segments.iter() {
        if brief && index.find(&VtepKey(s.vtep)).is_none() {
            continue;
        }
        w.begin_object();
        w.field_ip("vtep", &s.vtep);
        w.field_uint("vni", s.vni as u64);
        w.field_bool("imet_active", s.imet_active > 0);
        w.field_bool("imet_ever", s.imet_ever);
        w.field_uint("mac_routes_active", s.mac_active as u64);
        let mut rts = [0u64; 8];
        let n = s.route_targets(&mut rts);
        w.begin_array_field("route_targets");
        for rt in rts.iter().take(n) {
            route_target(w, *rt);
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
}

fn route_target(w: &mut JsonWriter, rt: u64) {
    let b = rt.to_be_bytes();
    match crate::bgp::ext_community::decode(&b) {
        crate::bgp::ext_community::ExtCommunity::RouteTargetAs2 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        crate::bgp::ext_community::ExtCommunity::RouteTargetIpv4 { ip, nn } => w.ip_colon_uint(ip, nn as u64),
        crate::bgp::ext_community::ExtCommunity::RouteTargetAs4 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        _ => w.hex(&b, None),
    }
}

fn route_type_name(t: u8) -> &'static str {
    match t {
        1 => "ethernet_ad",
        2 => "mac_ip",
        3 => "inclusive_multicast",
        4 => "ethernet_segment",
        5 => "ip_prefix",
        _ => "unknown",
    }
}

fn tunnel_type_name(t: u16) -> &'static str {
    match t {
        8 => "vxlan",
        9 => "nvgre",
        10 => "mpls",
        11 => "mpls-in-gre",
        12 => "vxlan-gpe",
        13 => "mpls-in-udp",
        19 => "geneve",
        _ => "other",
    }
}

fn routes(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("routes");
    let listed = if d.opts.brief { crate::decoder::BRIEF_ROUTES } else { usize::MAX };
    for (id, r) in d.cp.routes.iter().enumerate().take(listed) {
        route(w, id, r);
    }
    w.end_array();
}

fn route(w: &mut JsonWriter, id: usize, r: &Route) {
    let n = &r.nlri;
    let t = n.route_type;
    w.begin_object();
    w.field_uint("id", id as u64);
    w.field_uint("type", t as u64);
    w.field_str("type_name", route_type_name(t));
    rd_json(w, &n.rd);
    w.field_ip("vtep", &r.vtep());
    w.field_ip("next_hop", &r.attrs.vtep);
    if n.path_id != 0 {
        w.field_uint("path_id", n.path_id as u64);
    }
    nlri_identity(w, n);
    if t == 1 || t == 2 || t == 5 {
        w.field_uint("label1", n.label1 as u64);
    }
    if t == 2 {
        w.field_opt("label2", n.label2.map(u64::from), JsonWriter::uint);
    }
    w.field_str("label_kind", if r.label_is_vni { "vni" } else { "mpls" });
    w.field_uint("vni", r.vni as u64);
    let c = &r.attrs.communities;
    w.begin_array_field("route_targets");
    for &rt in c.route_targets() {
        route_target(w, rt);
    }
    w.end_array();
    w.field_opt("encapsulation", c.encapsulation, |w, tt| {
        w.begin_object();
        w.field_uint("tunnel_type", tt as u64);
        w.field_str("name", tunnel_type_name(tt));
        w.end_object();
    });
    w.field_opt("mac_mobility", c.mobility, |w, (sticky, seq)| {
        w.begin_object();
        w.field_uint("sequence", seq as u64);
        w.field_bool("sticky", sticky);
        w.end_object();
    });
    w.field_bool("default_gateway", c.default_gateway);
    w.field_opt("routers_mac", c.routers_mac.as_ref(), JsonWriter::mac);
    w.field_opt("esi_label", c.esi_label, |w, (single, label)| {
        w.begin_object();
        w.field_bool("single_active", single);
        w.field_uint("label", label as u64);
        w.end_object();
    });
    w.field_opt("es_import", c.es_import.as_ref(), JsonWriter::mac);
    w.field_opt("pmsi_tunnel", r.attrs.pmsi, |w, p| {
        w.begin_object();
        w.field_uint("flags", p.flags as u64);
        w.field_uint("tunnel_type", p.tunnel_type as u64);
        w.field_uint("label", p.label as u64);
        w.field_opt("endpoint", p.has_endpoint.then_some(&p.endpoint), JsonWriter::ip);
        w.end_object();
    });
    w.field_opt("originator_id", r.attrs.originator_id.map(crate::util::bytes::v4_mapped).as_ref(), JsonWriter::ip);
    w.field_bool("active", r.active);
    w.field_uint("first_packet", r.first_pkt);
    w.field_seconds("first_time", r.first_ns);
    w.field_uint("last_change_packet", r.last_pkt);
    w.field_seconds("last_change_time", r.last_ns);
    w.field_uint("advertisements", r.advertisements as u64);
    w.field_uint("withdrawals", r.withdrawals as u64);
    w.field_bool("from_snapshot", r.from_snapshot);
    w.end_object();
}

fn rd_json(w: &mut JsonWriter, rd_bytes: &[u8; 8]) {
    w.begin_object_field("rd");
    let rdv = rd::decode(rd_bytes);
    let rd_type = match rdv {
        RdValue::As2 { .. } => 0,
        RdValue::Ipv4 { .. } => 1,
        RdValue::As4 { .. } => 2,
        RdValue::Unknown { rd_type } => rd_type as u64,
    };
    w.field_uint("type", rd_type);
    w.field("value");
    match rdv {
        RdValue::As2 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        RdValue::Ipv4 { ip, nn } => w.ip_colon_uint(ip, nn as u64),
        RdValue::As4 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        RdValue::Unknown { .. } => w.hex(rd_bytes, None),
    }
    w.end_object();
}

/// The fields that name a route (what a withdrawal says), by route type.
fn nlri_identity(w: &mut JsonWriter, n: &crate::bgp::evpn::EvpnRoute) {
    let t = n.route_type;
    if t == 1 || t == 2 || t == 4 || t == 5 {
        esi_json(w, &n.esi);
    }
    if t != 4 {
        w.field_uint("ethernet_tag", n.etag as u64);
    }
    if t == 2 {
        w.field_mac("mac", &n.mac);
        w.field_opt("ip", (n.ip_bits != 0).then_some(&n.ip), JsonWriter::ip);
    }
    if t == 5 {
        w.field("prefix");
        w.prefix(&n.ip, n.prefix_len);
        w.field_ip("gateway", &n.gateway);
    }
    if t == 3 || t == 4 {
        w.field_ip("originator", &n.originator);
    }
}

fn withdrawals(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("withdrawals");
    let listed = if d.opts.brief { crate::decoder::BRIEF_WITHDRAWALS } else { usize::MAX };
    for x in d.cp.withdrawals.iter().take(listed) {
        let n = &x.nlri;
        let known = x.route.and_then(|id| d.cp.route(id));
        w.begin_object();
        w.field_uint("packet", x.pkt);
        w.field_seconds("time", x.ns);
        w.field_uint("count", x.count);
        w.field_uint("last_packet", x.last_pkt);
        w.field_seconds("last_time", x.last_ns);
        w.field_uint("session", (x.holder / 2) as u64);
        w.field_str("direction", dir_name((x.holder % 2) as usize));
        w.field_uint("type", n.route_type as u64);
        w.field_str("type_name", route_type_name(n.route_type));
        rd_json(w, &n.rd);
        if n.path_id != 0 {
            w.field_uint("path_id", n.path_id as u64);
        }
        nlri_identity(w, n);
        w.field_opt("route", x.route.map(u64::from), JsonWriter::uint);
        w.field_bool("matched", x.matched);
        // From the route it withdrew, when that was advertised in the capture or a snapshot.
        w.field_opt("vtep", known.map(|r| r.vtep()).as_ref(), JsonWriter::ip);
        w.field_opt("vni", known.map(|r| r.vni as u64), JsonWriter::uint);
        w.end_object();
    }
    w.end_array();
}

fn esi_json(w: &mut JsonWriter, e: &[u8; 10]) {
    let v = esi::decode(e);
    w.begin_object_field("esi");
    w.field_uint("type", e[0] as u64);
    w.field_str("kind", esi::type_name(&v));
    w.field("value");
    w.hex(e, Some(b':'));
    match v {
        EsiValue::Lacp { system_mac, port_key } => {
            w.field_mac("system_mac", &system_mac);
            w.field_uint("port_key", port_key as u64);
        }
        EsiValue::Mstp { root_bridge_mac, priority } => {
            w.field_mac("root_bridge_mac", &root_bridge_mac);
            w.field_uint("priority", priority as u64);
        }
        EsiValue::MacBased { system_mac, discriminator } => {
            w.field_mac("system_mac", &system_mac);
            w.field_uint("discriminator", discriminator as u64);
        }
        EsiValue::RouterId { router_id, discriminator } => {
            w.field_ip("router_id", &crate::util::bytes::v4_mapped(router_id));
            w.field_uint("discriminator", discriminator as u64);
        }
        EsiValue::As { asn, discriminator } => {
            w.field_uint("as", asn as u64);
            w.field_uint("discriminator", discriminator as u64);
        }
        _ => {}
    }
    w.end_object();
}

fn flows(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("flows");
    for (id, f) in d.flows.flows.iter().enumerate() {
        w.begin_object();
        w.field_uint("id", id as u64);
        w.field_ip("src_vtep", &f.src_vtep);
        w.field_ip("dst_vtep", &f.dst_vtep);
        w.field_uint("vni", f.vni as u64);
        w.field_mac("src_mac", &f.src_mac);
        w.field_mac("dst_mac", &f.dst_mac);
        w.field_str("kind", if f.dst_mac[0] & 1 != 0 { "bum" } else { "unicast" });
        w.field_uint("packets", f.packets);
        w.field_uint("bytes", f.bytes);
        w.field_uint("max_outer_length", f.max_outer_len as u64);
        w.field_uint("first_packet", f.first_pkt);
        w.field_uint("last_packet", f.last_pkt);
        w.field_seconds("first_time", f.first_ns);
        w.field_seconds("last_time", f.last_ns);
        let i = &f.first_inner;
        let has_ip = i.ip_version != 0;
        w.begin_object_field("inner");
        w.field_uint("ethertype", i.ethertype as u64);
        w.field_uint("vlan", i.vlan as u64);
        w.field_opt("src_ip", has_ip.then_some(&i.src_ip), JsonWriter::ip);
        w.field_opt("dst_ip", has_ip.then_some(&i.dst_ip), JsonWriter::ip);
        w.field_uint("protocol", i.protocol as u64);
        w.field_uint("arp_op", i.arp_op as u64);
        // Stored plus one, so that 0 means "no ICMP".
        w.field_opt("icmp_type", (i.icmp_type as u64).checked_sub(1), JsonWriter::uint);
        w.end_object();
        w.begin_object_field("counts");
        let c = &f.counts;
        for (k, v) in [("arp", c.arp), ("ipv4", c.ipv4), ("ipv6", c.ipv6), ("icmp", c.icmp), ("other", c.other), ("nested_vxlan", c.nested_vxlan)] {
            w.field_uint(k, v);
        }
        w.end_object();
        w.field_opt("nested_vni", f.nested_vni.map(u64::from), JsonWriter::uint);
        w.end_object();
    }
    w.end_array();
}

fn severity_name(s: u8) -> &'static str {
    match s {
        ERROR => "error",
        WARNING => "warning",
        _ => "info",
    }
}

fn findings(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("findings");
    for (id, f) in d.journal.findings.iter().enumerate() {
        finding(w, d, id, f);
    }
    w.end_array();
}

/// The findings from id `from` on, as a JSON array (what `verify --live` prints as it goes).
pub fn findings_since(d: &Decoder, from: usize) -> JsonWriter {
    let mut w = JsonWriter::new();
    w.begin_array();
    for (id, f) in d.journal.findings.iter().enumerate().skip(from) {
        finding(&mut w, d, id, f);
    }
    w.end_array();
    w
}

fn finding(w: &mut JsonWriter, d: &Decoder, id: usize, f: &Finding) {
    let s = &f.subject;
    // A duplicate MAC is about one address: its subject's second MAC is not a destination.
    let has_dst_mac = s.has_macs && f.kind != Kind::DuplicateMac;
    // A flooded frame went to several VTEPs (listed in `detail`), so it has no one receiver.
    let flood = (f.kind == Kind::DstMacFlooded).then(|| d.flows.replication.floods.get(f.detail[1] as usize)).flatten();
    let has_dst_vtep = s.has_vteps && f.kind != Kind::DstMacFlooded;
    w.begin_object();
    w.field_uint("id", id as u64);
    w.field_str("kind", f.kind.name());
    w.field_str("severity", severity_name(f.severity));
    w.field_opt("vni", s.has_vni.then_some(s.vni as u64), JsonWriter::uint);
    w.field_opt("src_vtep", s.has_vteps.then_some(&s.src_vtep), JsonWriter::ip);
    w.field_opt("dst_vtep", has_dst_vtep.then_some(&s.dst_vtep), JsonWriter::ip);
    w.field_opt("src_mac", s.has_macs.then_some(&s.src_mac), JsonWriter::mac);
    w.field_opt("dst_mac", has_dst_mac.then_some(&s.dst_mac), JsonWriter::mac);
    w.field_opt("other_vtep", f.other_vtep.as_ref(), JsonWriter::ip);
    let flow = if has_dst_mac && has_dst_vtep && s.has_vni {
        d.flows.find(&flow_key(&s.src_vtep, &s.dst_vtep, s.vni, &s.src_mac, &s.dst_mac))
    } else {
        None
    };
    w.field_opt("flow", flow.map(u64::from), JsonWriter::uint);
    // Inner IPs: those of the flow's first frame, or the IP of a duplicate MAC's route.
    let inner = flow.or(flood.map(|r| r.flow)).and_then(|id| d.flows.flows.get(id as usize)).map(|fl| fl.first_inner).filter(|i| i.ip_version != 0);
    w.field_opt("src_ip", inner.as_ref().map(|i| &i.src_ip).or(f.ip.as_ref()), JsonWriter::ip);
    w.field_opt("dst_ip", inner.as_ref().map(|i| &i.dst_ip), JsonWriter::ip);
    w.field_uint("first_packet", f.first_pkt);
    w.field_uint("last_packet", f.last_pkt);
    w.field_seconds("first_time", f.first_ns);
    w.field_seconds("last_time", f.last_ns);
    w.field_uint("count", f.count);
    w.begin_object_field("detail");
    match f.kind {
        Kind::DstVniMismatch | Kind::DstMacAtOtherVtep | Kind::SrcMacAtOtherVtep => {
            w.field_uint("advertised_vni", f.detail[0] as u64);
        }
        Kind::SrcMacAdvertisedLate => {
            w.field_uint("delay_ms", f.detail[0] as u64);
        }
        Kind::DstMacFlooded => {
            w.field_uint("advertised_vni", f.detail[0] as u64);
            w.field_bool("advertised_vtep_reached", s.aux != 0);
            if let Some(r) = flood {
                w.field("vteps");
                w.joined_ips(r.vteps.get(..r.n_vteps).unwrap_or(&[]), b", ");
                w.field_uint("vteps_reached", r.vteps_reached as u64);
                w.field_uint("copies", r.copies);
            }
        }
        Kind::BumWithoutImet => {
            w.field_bool("imet_seen_before", f.detail[0] != 0);
        }
        Kind::DuplicateMac => {
            w.field_uint("previous_sequence", f.detail[0] as u64);
            w.field_uint("new_sequence", f.detail[1] as u64);
            w.field_str("reason", f.text);
        }
        Kind::OversizeFrame => {
            w.field_uint("max_outer_length", f.detail[0] as u64);
            w.field_uint("underlay_mtu", f.detail[1] as u64);
        }
        Kind::OuterFragmented => {
            w.field_uint("outer_length", f.detail[0] as u64);
        }
        Kind::BadUdpChecksum => {
            w.field_uint("checksum", f.detail[0] as u64);
            w.field_bool("offload_pattern", f.detail[1] != 0);
        }
        Kind::VxlanFlagMissing | Kind::VxlanReservedBits => {
            w.field_uint("flags", f.detail[0] as u64);
        }
        Kind::Unverifiable => {
            // Code 0: nothing was checked yet, so there is no finding it would have been.
            let would_be = Kind::from_code(f.detail[0] as u8).filter(|_| f.detail[0] != 0);
            w.field_opt("would_be", would_be.map(Kind::name), JsonWriter::string);
            w.field_str("reason", if f.detail[0] == 0 { "no BGP session captured yet" } else { "a BGP session was captured mid-stream or lost bytes, so earlier routes are unknown" });
        }
        Kind::BgpStreamGap => {
            w.field_uint("missing_bytes", f.detail[0] as u64);
            w.field_uint("session", s.aux as u64);
        }
        Kind::BgpNotification => {
            w.field_uint("code", f.detail[0] as u64);
            w.field_uint("subcode", f.detail[1] as u64);
            w.field_str("code_name", f.text);
            w.field_str("subcode_name", f.text2);
        }
        Kind::BgpMalformed | Kind::VxlanMalformed => {
            w.field_str("what", f.text);
            w.field_str("why", f.text2);
        }
        _ => {}
    }
    w.end_object();
    w.end_object();
}

fn timeline(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("timeline");
    let events = if d.opts.timeline { d.journal.timeline.as_slice() } else { &[] };
    for e in events.iter() {
        w.begin_object();
        w.field_uint("packet", e.pkt);
        w.field_seconds("time", e.ns);
        w.field_str("event", e.kind.name());
        match e.kind {
            EventKind::Advertise | EventKind::Withdraw | EventKind::ImplicitWithdraw | EventKind::Update => {
                w.field_uint("route", e.a as u64);
                w.field_uint("session", (e.b / 2) as u64);
                w.field_str("direction", dir_name((e.b % 2) as usize));
            }
            EventKind::MacMove => {
                w.field_uint("route", e.a as u64);
                w.field_uint("previous_route", e.b as u64);
            }
            EventKind::SessionOpen => {
                w.field_uint("session", e.a as u64);
                w.field_str("direction", dir_name(e.b as usize));
            }
            EventKind::SessionEstablished => {
                w.field_uint("session", e.a as u64);
            }
            EventKind::SessionClosed => {
                w.field_uint("session", e.a as u64);
                let reason = match e.b {
                    0 => "fin",
                    1 => "rst",
                    2 => "notification",
                    _ => "reopened",
                };
                w.field_str("reason", reason);
            }
            EventKind::Finding => {
                w.field_uint("finding", e.a as u64);
            }
            EventKind::RouteRefresh => {
                w.field_uint("session", e.a as u64);
                w.field_uint("afi", (e.b >> 8) as u64);
                w.field_uint("safi", (e.b & 0xff) as u64);
            }
            EventKind::Notification => {
                w.field_uint("session", e.a as u64);
                w.field_uint("code", (e.b >> 8) as u64);
                w.field_uint("subcode", (e.b & 0xff) as u64);
            }
        }
        w.end_object();
    }
    w.end_array();
}

fn decode_errors(w: &mut JsonWriter, d: &Decoder) {
    w.begin_array_field("decode_errors");
    for e in d.journal.errors.iter() {
        w.begin_object();
        w.field_uint("packet", e.pkt);
        w.field_str("what", e.error.what);
        w.field_str("why", e.error.why);
        w.field_uint("value", e.error.got);
        w.end_object();
    }
    w.end_array();
}

fn limits(w: &mut JsonWriter, d: &Decoder) {
    w.begin_object_field("limits");
    let items: [(&str, u64); 9] = [
        ("decode_errors_total", d.journal.errors_total),
        ("timeline_dropped", d.journal.timeline_dropped),
        ("findings_dropped", d.journal.findings_dropped),
        ("routes_dropped", d.cp.routes_dropped),
        ("index_overflow", d.cp.index_overflow),
        ("flow_packets_dropped", d.flows.dropped_packets),
        ("sessions_dropped", d.sessions_dropped),
        ("withdrawals_dropped", d.cp.withdrawals_dropped),
        ("json_truncated", w.overflowed as u64),
    ];
    for (k, v) in items {
        w.field_uint(k, v);
    }
    w.end_object();
}
