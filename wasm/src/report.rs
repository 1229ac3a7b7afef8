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
pub const SCHEMA: &str = "bagpipe-cni.verify/1";

/// Writes the whole report.
pub fn write(d: &Decoder) -> JsonWriter {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("schema");
    w.string(SCHEMA);
    options(&mut w, d);
    capture(&mut w, d);
    summary(&mut w, d);
    sessions(&mut w, d);
    vteps(&mut w, d);
    routes(&mut w, d);
    flows(&mut w, d);
    findings(&mut w, d);
    timeline(&mut w, d);
    decode_errors(&mut w, d);
    limits(&mut w, d);
    w.end_object();
    w
}

fn options(w: &mut JsonWriter, d: &Decoder) {
    w.key("options");
    w.begin_object();
    w.key("vxlan_ports");
    w.begin_array();
    for &p in d.opts.ports() {
        w.uint(p as u64);
    }
    w.end_array();
    w.key("underlay_mtu");
    w.uint(d.opts.underlay_mtu as u64);
    w.end_object();
}

fn capture(w: &mut JsonWriter, d: &Decoder) {
    let s = &d.stats;
    w.key("capture");
    w.begin_object();
    w.key("format");
    match d.reader.format {
        Format::Unknown => w.string("unknown"),
        Format::Pcap { kuznetsov: true, .. } => w.string("pcap-kuznetsov"),
        Format::Pcap { .. } => w.string("pcap"),
        Format::Pcapng => w.string("pcapng"),
    }
    w.key("byte_order");
    match d.reader.format {
        Format::Pcap { big_endian, .. } => w.string(if big_endian { "big" } else { "little" }),
        _ => w.null(),
    }
    w.key("timestamp_resolution");
    match d.reader.format {
        Format::Pcap { nanos, .. } => w.string(if nanos { "ns" } else { "us" }),
        Format::Pcapng => w.string("per-interface"),
        Format::Unknown => w.null(),
    }
    w.key("link_types");
    w.begin_array();
    for &lt in d.reader.link_types.iter().take(d.reader.link_type_count) {
        w.uint(lt as u64);
    }
    w.end_array();
    w.key("interfaces");
    w.uint(d.reader.interfaces_seen as u64);
    w.key("skipped_blocks");
    w.uint(d.reader.skipped_blocks);
    w.key("packets");
    w.uint(s.packets);
    w.key("input_bytes");
    w.uint(s.input_bytes);
    w.key("captured_bytes");
    w.uint(s.captured_bytes);
    w.key("truncated_packets");
    w.uint(s.truncated);
    w.key("first_time");
    time_or_null(w, s.first_ns, s.packets);
    w.key("last_time");
    time_or_null(w, s.last_ns, s.packets);
    w.key("fatal_error");
    match d.fatal {
        Some(e) => {
            w.begin_object();
            w.key("what");
            w.string(e.what);
            w.key("why");
            w.string(e.why);
            w.key("value");
            w.uint(e.got);
            w.end_object();
        }
        None => w.null(),
    }
    w.key("counters");
    w.begin_object();
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
        w.key(k);
        w.uint(v);
    }
    w.end_object();
    w.end_object();
}

fn time_or_null(w: &mut JsonWriter, ns: u64, packets: u64) {
    if packets == 0 {
        w.null();
    } else {
        w.seconds(ns);
    }
}

fn summary(w: &mut JsonWriter, d: &Decoder) {
    let mut counts = [0u64; 3];
    for f in d.journal.findings.iter() {
        if let Some(c) = counts.get_mut(f.severity as usize) {
            *c += 1;
        }
    }
    let know = d.knowledge();
    w.key("summary");
    w.begin_object();
    w.key("errors");
    w.uint(counts[ERROR as usize]);
    w.key("warnings");
    w.uint(counts[WARNING as usize]);
    w.key("infos");
    w.uint(counts[INFO as usize]);
    w.key("consistent");
    w.boolean(counts[ERROR as usize] == 0);
    w.key("control_plane_seen");
    w.boolean(know.any_session);
    w.key("partial_sessions_open");
    w.uint(know.partial_live as u64);
    w.key("sessions");
    w.uint(d.sessions.len() as u64);
    w.key("routes");
    w.uint(d.cp.routes.len() as u64);
    w.key("routes_active");
    w.uint(d.cp.routes.iter().filter(|r| r.active).count() as u64);
    w.key("flows");
    w.uint(d.flows.flows.len() as u64);
    w.key("unknown_route_types");
    w.begin_array();
    for (t, &c) in d.cp.unknown_route_types.iter().enumerate() {
        if c > 0 {
            w.begin_object();
            w.key("type");
            w.uint(t as u64);
            w.key("count");
            w.uint(c);
            w.end_object();
        }
    }
    w.end_array();
    w.end_object();
}

fn endpoint(w: &mut JsonWriter, ep: &([u8; 16], u16)) {
    w.begin_object();
    w.key("address");
    w.ip(&ep.0);
    w.key("port");
    w.uint(ep.1 as u64);
    w.end_object();
}

fn sessions(w: &mut JsonWriter, d: &Decoder) {
    w.key("sessions");
    w.begin_array();
    for (id, s) in d.sessions.iter().enumerate() {
        session(w, d, id, s);
    }
    w.end_array();
    w.key("notifications");
    w.begin_array();
    for n in d.notifications.iter() {
        w.begin_object();
        w.key("session");
        w.uint(n.session as u64);
        w.key("direction");
        w.string(dir_name(n.dir as usize));
        w.key("packet");
        w.uint(n.pkt);
        w.key("time");
        w.seconds(n.ns);
        w.key("code");
        w.uint(n.code as u64);
        w.key("subcode");
        w.uint(n.subcode as u64);
        let (c, sc) = crate::bgp::message::notification_name(n.code, n.subcode);
        w.key("code_name");
        w.string(c);
        w.key("subcode_name");
        w.string(sc);
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
    w.key("id");
    w.uint(id as u64);
    w.key("client");
    endpoint(w, &s.client);
    w.key("server");
    endpoint(w, &s.server);
    w.key("first_packet");
    w.uint(s.first_pkt);
    w.key("last_packet");
    w.uint(s.last_pkt);
    w.key("first_time");
    w.seconds(s.first_ns);
    w.key("last_time");
    w.seconds(s.last_ns);
    w.key("established");
    w.boolean(s.established);
    w.key("partial");
    w.boolean(s.partial);
    w.key("closed");
    match s.closed {
        Some((why, pkt, ns)) => {
            w.begin_object();
            w.key("reason");
            w.string(why.name());
            w.key("packet");
            w.uint(pkt);
            w.key("time");
            w.seconds(ns);
            w.end_object();
        }
        None => w.null(),
    }
    w.key("directions");
    w.begin_array();
    for (di, dir) in s.dirs.iter().enumerate() {
        w.begin_object();
        w.key("direction");
        w.string(dir_name(di));
        w.key("open");
        match dir.open {
            Some(o) => {
                w.begin_object();
                w.key("packet");
                w.uint(dir.open_pkt);
                w.key("version");
                w.uint(o.version as u64);
                w.key("as");
                w.uint(o.my_as as u64);
                w.key("hold_time");
                w.uint(o.hold_time as u64);
                w.key("bgp_id");
                w.ip(&crate::util::bytes::v4_mapped(o.bgp_id));
                w.key("capabilities");
                w.begin_array();
                for c in o.capabilities() {
                    w.begin_object();
                    w.key("code");
                    w.uint(c.code as u64);
                    w.key("name");
                    w.string(capability_name(c.code));
                    if c.code == 1 || c.code == 69 {
                        w.key("afi");
                        w.uint(c.afi as u64);
                        w.key("safi");
                        w.uint(c.safi as u64);
                    }
                    if c.code == 69 || c.code == 65 {
                        w.key("value");
                        w.uint(c.value as u64);
                    }
                    w.end_object();
                }
                w.end_array();
                w.end_object();
            }
            None => w.null(),
        }
        w.key("messages");
        w.begin_object();
        for (k, t) in [("open", 1usize), ("update", 2), ("notification", 3), ("keepalive", 4), ("route_refresh", 5)] {
            w.key(k);
            w.uint(dir.messages.get(t).copied().unwrap_or(0));
        }
        w.end_object();
        w.key("evpn_advertised");
        w.uint(dir.evpn_advertised);
        w.key("evpn_withdrawn");
        w.uint(dir.evpn_withdrawn);
        w.key("other_family_updates");
        w.uint(dir.other_families);
        w.key("decode_errors");
        w.uint(dir.decode_errors);
        w.key("started_mid_stream");
        w.boolean(dir.stream.started && !dir.stream.from_start);
        w.key("gaps");
        w.uint(dir.stream.gaps as u64);
        w.key("gap_bytes");
        w.uint(dir.stream.gap_bytes);
        w.key("retransmitted_bytes");
        w.uint(dir.stream.retransmitted_bytes);
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
    // VTEPs in first-seen order (routes, then flows), counted in one pass each.
    let mut index = crate::util::index_map::IndexMap::new(1 << 20);
    let mut counts: Vec<VtepCounts> = Vec::new();
    let mut slot = |v: [u8; 16], counts: &mut Vec<VtepCounts>| -> Option<usize> {
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
    w.key("vteps");
    w.begin_array();
    for (i, c) in counts.iter().enumerate() {
        let v = match index.key(i as u32) {
            Some(k) => k.0,
            None => continue,
        };
        w.begin_object();
        w.key("address");
        w.ip(&v);
        w.key("routes");
        w.uint(c.routes);
        w.key("routes_active");
        w.uint(c.active);
        w.key("mac_routes_active");
        w.uint(c.macs);
        w.key("flows_sent");
        w.uint(c.sent);
        w.key("flows_received");
        w.uint(c.received);
        w.end_object();
    }
    w.end_array();
    w.key("segments");
    w.begin_array();
    for s in d.cp.segments.iter() {
        w.begin_object();
        w.key("vtep");
        w.ip(&s.vtep);
        w.key("vni");
        w.uint(s.vni as u64);
        w.key("imet_active");
        w.boolean(s.imet_active > 0);
        w.key("imet_ever");
        w.boolean(s.imet_ever);
        w.key("mac_routes_active");
        w.uint(s.mac_active as u64);
        w.key("route_targets");
        let mut rts = [0u64; 8];
        let n = s.route_targets(&mut rts);
        w.begin_array();
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
    w.key("routes");
    w.begin_array();
    for (id, r) in d.cp.routes.iter().enumerate() {
        route(w, id, r);
    }
    w.end_array();
}

fn route(w: &mut JsonWriter, id: usize, r: &Route) {
    let n = &r.nlri;
    let t = n.route_type;
    w.begin_object();
    w.key("id");
    w.uint(id as u64);
    w.key("type");
    w.uint(t as u64);
    w.key("type_name");
    w.string(route_type_name(t));
    w.key("rd");
    w.begin_object();
    let rdv = rd::decode(&n.rd);
    w.key("type");
    w.uint(match rdv {
        RdValue::As2 { .. } => 0,
        RdValue::Ipv4 { .. } => 1,
        RdValue::As4 { .. } => 2,
        RdValue::Unknown { rd_type } => rd_type as u64,
    });
    w.key("value");
    match rdv {
        RdValue::As2 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        RdValue::Ipv4 { ip, nn } => w.ip_colon_uint(ip, nn as u64),
        RdValue::As4 { asn, nn } => w.joined_uints(&[asn as u64, nn as u64], b':'),
        RdValue::Unknown { .. } => w.hex(&n.rd, None),
    }
    w.end_object();
    w.key("vtep");
    w.ip(&r.vtep());
    w.key("next_hop");
    w.ip(&r.attrs.vtep);
    if n.path_id != 0 {
        w.key("path_id");
        w.uint(n.path_id as u64);
    }
    if t == 1 || t == 2 || t == 4 || t == 5 {
        esi_json(w, &n.esi);
    }
    if t != 4 {
        w.key("ethernet_tag");
        w.uint(n.etag as u64);
    }
    if t == 2 {
        w.key("mac");
        w.mac(&n.mac);
        w.key("ip");
        if n.ip_bits == 0 {
            w.null();
        } else {
            w.ip(&n.ip);
        }
    }
    if t == 5 {
        w.key("prefix");
        w.prefix(&n.ip, n.prefix_len);
        w.key("gateway");
        w.ip(&n.gateway);
    }
    if t == 3 || t == 4 {
        w.key("originator");
        w.ip(&n.originator);
    }
    if t == 1 || t == 2 || t == 5 {
        w.key("label1");
        w.uint(n.label1 as u64);
    }
    if t == 2 {
        w.key("label2");
        match n.label2 {
            Some(l) => w.uint(l as u64),
            None => w.null(),
        }
    }
    w.key("label_kind");
    w.string(if r.label_is_vni { "vni" } else { "mpls" });
    w.key("vni");
    w.uint(r.vni as u64);
    let c = &r.attrs.communities;
    w.key("route_targets");
    w.begin_array();
    for &rt in c.route_targets() {
        route_target(w, rt);
    }
    w.end_array();
    w.key("encapsulation");
    match c.encapsulation {
        Some(tt) => {
            w.begin_object();
            w.key("tunnel_type");
            w.uint(tt as u64);
            w.key("name");
            w.string(tunnel_type_name(tt));
            w.end_object();
        }
        None => w.null(),
    }
    w.key("mac_mobility");
    match c.mobility {
        Some((sticky, seq)) => {
            w.begin_object();
            w.key("sequence");
            w.uint(seq as u64);
            w.key("sticky");
            w.boolean(sticky);
            w.end_object();
        }
        None => w.null(),
    }
    w.key("default_gateway");
    w.boolean(c.default_gateway);
    w.key("routers_mac");
    match c.routers_mac {
        Some(m) => w.mac(&m),
        None => w.null(),
    }
    w.key("esi_label");
    match c.esi_label {
        Some((single, label)) => {
            w.begin_object();
            w.key("single_active");
            w.boolean(single);
            w.key("label");
            w.uint(label as u64);
            w.end_object();
        }
        None => w.null(),
    }
    w.key("es_import");
    match c.es_import {
        Some(m) => w.mac(&m),
        None => w.null(),
    }
    w.key("pmsi_tunnel");
    match r.attrs.pmsi {
        Some(p) => {
            w.begin_object();
            w.key("flags");
            w.uint(p.flags as u64);
            w.key("tunnel_type");
            w.uint(p.tunnel_type as u64);
            w.key("label");
            w.uint(p.label as u64);
            w.key("endpoint");
            if p.has_endpoint {
                w.ip(&p.endpoint);
            } else {
                w.null();
            }
            w.end_object();
        }
        None => w.null(),
    }
    w.key("originator_id");
    match r.attrs.originator_id {
        Some(o) => w.ip(&crate::util::bytes::v4_mapped(o)),
        None => w.null(),
    }
    w.key("active");
    w.boolean(r.active);
    w.key("first_packet");
    w.uint(r.first_pkt);
    w.key("first_time");
    w.seconds(r.first_ns);
    w.key("last_change_packet");
    w.uint(r.last_pkt);
    w.key("last_change_time");
    w.seconds(r.last_ns);
    w.key("advertisements");
    w.uint(r.advertisements as u64);
    w.key("withdrawals");
    w.uint(r.withdrawals as u64);
    w.end_object();
}

fn esi_json(w: &mut JsonWriter, e: &[u8; 10]) {
    let v = esi::decode(e);
    w.key("esi");
    w.begin_object();
    w.key("type");
    w.uint(e[0] as u64);
    w.key("kind");
    w.string(esi::type_name(&v));
    w.key("value");
    w.hex(e, Some(b':'));
    match v {
        EsiValue::Lacp { system_mac, port_key } => {
            w.key("system_mac");
            w.mac(&system_mac);
            w.key("port_key");
            w.uint(port_key as u64);
        }
        EsiValue::Mstp { root_bridge_mac, priority } => {
            w.key("root_bridge_mac");
            w.mac(&root_bridge_mac);
            w.key("priority");
            w.uint(priority as u64);
        }
        EsiValue::MacBased { system_mac, discriminator } => {
            w.key("system_mac");
            w.mac(&system_mac);
            w.key("discriminator");
            w.uint(discriminator as u64);
        }
        EsiValue::RouterId { router_id, discriminator } => {
            w.key("router_id");
            w.ip(&crate::util::bytes::v4_mapped(router_id));
            w.key("discriminator");
            w.uint(discriminator as u64);
        }
        EsiValue::As { asn, discriminator } => {
            w.key("as");
            w.uint(asn as u64);
            w.key("discriminator");
            w.uint(discriminator as u64);
        }
        _ => {}
    }
    w.end_object();
}

fn flows(w: &mut JsonWriter, d: &Decoder) {
    w.key("flows");
    w.begin_array();
    for (id, f) in d.flows.flows.iter().enumerate() {
        w.begin_object();
        w.key("id");
        w.uint(id as u64);
        w.key("src_vtep");
        w.ip(&f.src_vtep);
        w.key("dst_vtep");
        w.ip(&f.dst_vtep);
        w.key("vni");
        w.uint(f.vni as u64);
        w.key("src_mac");
        w.mac(&f.src_mac);
        w.key("dst_mac");
        w.mac(&f.dst_mac);
        w.key("kind");
        w.string(if f.dst_mac[0] & 1 != 0 { "bum" } else { "unicast" });
        w.key("packets");
        w.uint(f.packets);
        w.key("bytes");
        w.uint(f.bytes);
        w.key("max_outer_length");
        w.uint(f.max_outer_len as u64);
        w.key("first_packet");
        w.uint(f.first_pkt);
        w.key("last_packet");
        w.uint(f.last_pkt);
        w.key("first_time");
        w.seconds(f.first_ns);
        w.key("last_time");
        w.seconds(f.last_ns);
        let i = &f.first_inner;
        w.key("inner");
        w.begin_object();
        w.key("ethertype");
        w.uint(i.ethertype as u64);
        w.key("vlan");
        w.uint(i.vlan as u64);
        w.key("src_ip");
        if i.ip_version != 0 {
            w.ip(&i.src_ip);
        } else {
            w.null();
        }
        w.key("dst_ip");
        if i.ip_version != 0 {
            w.ip(&i.dst_ip);
        } else {
            w.null();
        }
        w.key("protocol");
        w.uint(i.protocol as u64);
        w.key("arp_op");
        w.uint(i.arp_op as u64);
        w.key("icmp_type");
        if i.icmp_type > 0 {
            w.uint(i.icmp_type as u64 - 1);
        } else {
            w.null();
        }
        w.end_object();
        w.key("counts");
        w.begin_object();
        let c = &f.counts;
        for (k, v) in [("arp", c.arp), ("ipv4", c.ipv4), ("ipv6", c.ipv6), ("icmp", c.icmp), ("other", c.other), ("nested_vxlan", c.nested_vxlan)] {
            w.key(k);
            w.uint(v);
        }
        w.end_object();
        w.key("nested_vni");
        match f.nested_vni {
            Some(v) => w.uint(v as u64),
            None => w.null(),
        }
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
    w.key("findings");
    w.begin_array();
    for (id, f) in d.journal.findings.iter().enumerate() {
        finding(w, d, id, f);
    }
    w.end_array();
}

fn finding(w: &mut JsonWriter, d: &Decoder, id: usize, f: &Finding) {
    let s = &f.subject;
    w.begin_object();
    w.key("id");
    w.uint(id as u64);
    w.key("kind");
    w.string(f.kind.name());
    w.key("severity");
    w.string(severity_name(f.severity));
    w.key("vni");
    if s.has_vni {
        w.uint(s.vni as u64);
    } else {
        w.null();
    }
    w.key("src_vtep");
    if s.has_vteps {
        w.ip(&s.src_vtep);
    } else {
        w.null();
    }
    w.key("dst_vtep");
    if s.has_vteps {
        w.ip(&s.dst_vtep);
    } else {
        w.null();
    }
    w.key("src_mac");
    if s.has_macs {
        w.mac(&s.src_mac);
    } else {
        w.null();
    }
    w.key("dst_mac");
    if s.has_macs && f.kind != Kind::DuplicateMac {
        w.mac(&s.dst_mac);
    } else {
        w.null();
    }
    w.key("other_vtep");
    match f.other_vtep {
        Some(v) => w.ip(&v),
        None => w.null(),
    }
    w.key("flow");
    let flow = if s.has_macs && s.has_vni && f.kind != Kind::DuplicateMac {
        d.flows.find(&flow_key(&s.src_vtep, &s.dst_vtep, s.vni, &s.src_mac, &s.dst_mac))
    } else {
        None
    };
    match flow {
        Some(fid) => w.uint(fid as u64),
        None => w.null(),
    }
    // Inner IPs: those of the flow's first frame, or the IP of a duplicate MAC's route.
    let inner = flow.and_then(|id| d.flows.flows.get(id as usize)).map(|fl| fl.first_inner).filter(|i| i.ip_version != 0);
    w.key("src_ip");
    match (inner, f.ip) {
        (Some(i), _) => w.ip(&i.src_ip),
        (None, Some(ip)) => w.ip(&ip),
        _ => w.null(),
    }
    w.key("dst_ip");
    match inner {
        Some(i) => w.ip(&i.dst_ip),
        None => w.null(),
    }
    w.key("first_packet");
    w.uint(f.first_pkt);
    w.key("last_packet");
    w.uint(f.last_pkt);
    w.key("first_time");
    w.seconds(f.first_ns);
    w.key("last_time");
    w.seconds(f.last_ns);
    w.key("count");
    w.uint(f.count);
    w.key("detail");
    w.begin_object();
    match f.kind {
        Kind::DstVniMismatch | Kind::DstMacAtOtherVtep | Kind::SrcMacAtOtherVtep => {
            w.key("advertised_vni");
            w.uint(f.detail[0] as u64);
        }
        Kind::BumWithoutImet => {
            w.key("imet_seen_before");
            w.boolean(f.detail[0] != 0);
        }
        Kind::DuplicateMac => {
            w.key("previous_sequence");
            w.uint(f.detail[0] as u64);
            w.key("new_sequence");
            w.uint(f.detail[1] as u64);
            w.key("reason");
            w.string(f.text);
        }
        Kind::OversizeFrame => {
            w.key("max_outer_length");
            w.uint(f.detail[0] as u64);
            w.key("underlay_mtu");
            w.uint(f.detail[1] as u64);
        }
        Kind::OuterFragmented => {
            w.key("outer_length");
            w.uint(f.detail[0] as u64);
        }
        Kind::BadUdpChecksum => {
            w.key("checksum");
            w.uint(f.detail[0] as u64);
            w.key("offload_pattern");
            w.boolean(f.detail[1] != 0);
        }
        Kind::VxlanFlagMissing | Kind::VxlanReservedBits => {
            w.key("flags");
            w.uint(f.detail[0] as u64);
        }
        Kind::Unverifiable => {
            w.key("would_be");
            match Kind::from_code(f.detail[0] as u8) {
                Some(k) if f.detail[0] != 0 => w.string(k.name()),
                _ => w.null(),
            }
            w.key("reason");
            w.string(if f.detail[0] == 0 { "no BGP session captured yet" } else { "a BGP session was captured mid-stream or lost bytes, so earlier routes are unknown" });
        }
        Kind::BgpStreamGap => {
            w.key("missing_bytes");
            w.uint(f.detail[0] as u64);
            w.key("session");
            w.uint(s.aux as u64);
        }
        Kind::BgpNotification => {
            w.key("code");
            w.uint(f.detail[0] as u64);
            w.key("subcode");
            w.uint(f.detail[1] as u64);
            w.key("code_name");
            w.string(f.text);
            w.key("subcode_name");
            w.string(f.text2);
        }
        Kind::BgpMalformed | Kind::VxlanMalformed => {
            w.key("what");
            w.string(f.text);
            w.key("why");
            w.string(f.text2);
        }
        _ => {}
    }
    w.end_object();
    w.end_object();
}

fn timeline(w: &mut JsonWriter, d: &Decoder) {
    w.key("timeline");
    w.begin_array();
    let events = if d.opts.timeline { d.journal.timeline.as_slice() } else { &[] };
    for e in events.iter() {
        w.begin_object();
        w.key("packet");
        w.uint(e.pkt);
        w.key("time");
        w.seconds(e.ns);
        w.key("event");
        w.string(e.kind.name());
        match e.kind {
            EventKind::Advertise | EventKind::Withdraw | EventKind::ImplicitWithdraw | EventKind::Update => {
                w.key("route");
                w.uint(e.a as u64);
                w.key("session");
                w.uint((e.b / 2) as u64);
                w.key("direction");
                w.string(dir_name((e.b % 2) as usize));
            }
            EventKind::MacMove => {
                w.key("route");
                w.uint(e.a as u64);
                w.key("previous_route");
                w.uint(e.b as u64);
            }
            EventKind::SessionOpen => {
                w.key("session");
                w.uint(e.a as u64);
                w.key("direction");
                w.string(dir_name(e.b as usize));
            }
            EventKind::SessionEstablished => {
                w.key("session");
                w.uint(e.a as u64);
            }
            EventKind::SessionClosed => {
                w.key("session");
                w.uint(e.a as u64);
                w.key("reason");
                w.string(match e.b {
                    0 => "fin",
                    1 => "rst",
                    2 => "notification",
                    _ => "reopened",
                });
            }
            EventKind::Finding => {
                w.key("finding");
                w.uint(e.a as u64);
            }
            EventKind::RouteRefresh => {
                w.key("session");
                w.uint(e.a as u64);
                w.key("afi");
                w.uint((e.b >> 8) as u64);
                w.key("safi");
                w.uint((e.b & 0xff) as u64);
            }
            EventKind::Notification => {
                w.key("session");
                w.uint(e.a as u64);
                w.key("code");
                w.uint((e.b >> 8) as u64);
                w.key("subcode");
                w.uint((e.b & 0xff) as u64);
            }
        }
        w.end_object();
    }
    w.end_array();
}

fn decode_errors(w: &mut JsonWriter, d: &Decoder) {
    w.key("decode_errors");
    w.begin_array();
    for e in d.journal.errors.iter() {
        w.begin_object();
        w.key("packet");
        w.uint(e.pkt);
        w.key("what");
        w.string(e.error.what);
        w.key("why");
        w.string(e.error.why);
        w.key("value");
        w.uint(e.error.got);
        w.end_object();
    }
    w.end_array();
}

fn limits(w: &mut JsonWriter, d: &Decoder) {
    w.key("limits");
    w.begin_object();
    let items: [(&str, u64); 8] = [
        ("decode_errors_total", d.journal.errors_total),
        ("timeline_dropped", d.journal.timeline_dropped),
        ("findings_dropped", d.journal.findings_dropped),
        ("routes_dropped", d.cp.routes_dropped),
        ("index_overflow", d.cp.index_overflow),
        ("flow_packets_dropped", d.flows.dropped_packets),
        ("sessions_dropped", d.sessions_dropped),
        ("json_truncated", w.overflowed as u64),
    ];
    for (k, v) in items {
        w.key(k);
        w.uint(v);
    }
    w.end_object();
}
