//! Test support for the data-plane checks (late_source.rs, replication.rs): a control plane,
//! journal and flows, fed routes and VXLAN frames the way the decoder feeds them.

use crate::bgp::evpn::{decode_route, vectors};
use crate::bgp::ext_community::summarise;
use crate::control_plane::{ControlPlane, Origin, RouteAttrs};
use crate::dataplane::{flow_key, Flows, Knowledge};
use crate::journal::Journal;
use crate::util::bytes::v4_mapped;
use crate::wire::vxlan::InnerLight;

pub const MS: u64 = 1_000_000;
/// The MAC of vectors::MAC_IP_V4 (VNI 16).
pub const MAC: [u8; 6] = [2, 0x27, 0, 0, 0, 5];
/// Route target 64512:90 with the VXLAN encapsulation community.
const RT90: [u8; 16] = [3, 0x0c, 0, 0, 0, 0, 0, 8, 0, 2, 0xfc, 0, 0, 0, 0, 90];

/// What the decoder knows of the control plane: a session seen, nothing missing.
pub fn know() -> Knowledge {
    Knowledge { any_session: true, partial_live: 0, version: 1 }
}

/// One run's state; `pkt` numbers every route and frame fed.
pub struct Run {
    pub cp: ControlPlane,
    pub j: Journal,
    pub flows: Flows,
    pub pkt: u64,
}

impl Run {
    pub fn new() -> Run {
        Run { cp: ControlPlane::new(), j: Journal::new(), flows: Flows::new(), pkt: 0 }
    }

    /// vectors::MAC_IP_V4 (MAC, VNI 16) advertised by `vtep` at `ns`.
    pub fn advertise(&mut self, vtep: [u8; 4], ns: u64) {
        self.pkt += 1;
        let r = decode_route(2, &vectors::MAC_IP_V4).unwrap().unwrap();
        let attrs = RouteAttrs { vtep: v4_mapped(vtep), communities: summarise(&RT90).0, pmsi: None, originator_id: None };
        self.cp.advertise(&r, &attrs, true, Origin { holder: 0, pkt: self.pkt, ns }, &mut self.j);
    }

    /// A VXLAN frame (VNI 16, IPv4 ICMP inside) from VTEP `src` to VTEP `dst` at `ns`.
    pub fn frame(&mut self, (src, dst): ([u8; 4], [u8; 4]), (src_mac, dst_mac): ([u8; 6], [u8; 6]), inner: &[u8], ns: u64) {
        self.pkt += 1;
        let light = InnerLight { dst: dst_mac, src: src_mac, ethertype: 0x0800, protocol: 1, udp_dst_port: 0 };
        let key = flow_key(&v4_mapped(src), &v4_mapped(dst), 16, &src_mac, &dst_mac);
        self.flows.frame(key, &light, inner, 100, self.pkt, ns, &self.cp, &know(), &mut self.j);
    }
}
