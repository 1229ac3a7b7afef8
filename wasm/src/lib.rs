//! bagpipe-cni verify decoder: pcap/pcapng -> BGP EVPN control plane + VXLAN data plane,
//! checked against each other, reported as JSON. Built for wasm32-unknown-unknown with no
//! external crates; no code path panics (see wasm/README.md for how that is checked).
//!
//! ABI (wasm-bindgen shape, driven by wasm/bindings.ts):
//! - `vd_alloc(len) -> ptr`, `vd_free(ptr, len)`: byte buffers in linear memory.
//! - `vd_new(ports_ptr, n_ports, mtu, flags) -> 1|0`: starts a run (ports: u16 array; flags
//!   bit 0 disables the fast path for plain VXLAN frames, bit 1 leaves the timeline out of
//!   the report, bit 2 lists at most 1024 routes and 256 withdrawals: the text report's run).
//! - `vd_seed(ptr, len) -> routes`: loads snapshot routes (records of src/snapshot.rs) after
//!   `vd_new` and before the first `vd_feed`; on a malformed record nothing is loaded and it
//!   returns `0x8000_0000 | index of the record`.
//! - `vd_feed(ptr, len, eof) -> consumed`: decodes whole records; the caller keeps the rest.
//! - `vd_packets() -> f64`: frames decoded so far (progress).
//! - `vd_findings() -> u32`, `vd_findings_since(from, retptr)`: findings so far, and those from
//!   id `from` on as JSON (handed out like the report), while the run goes on;
//!   `vd_findings_settled() -> u32`: how many findings, from id 0, can no longer change.
//! - `vd_status() -> u32`: 0 readable so far, 1 input unreadable (unknown format/broken framing).
//! - `vd_report(retptr)`: finishes the run and writes `[ptr, len, cap]` of the JSON bytes at
//!   `retptr`; the caller copies them out and calls `vd_free_report(ptr, cap)`.

pub mod bgp;
pub mod control_plane;
pub mod dataplane;
pub mod decoder;
pub mod journal;
pub mod late_source;
pub mod replication;
pub mod report;
pub mod session;
pub mod snapshot;
pub mod stream;
#[cfg(test)]
pub mod test_flows;
pub mod util;
pub mod wire;

use decoder::{Decoder, Options};
use std::alloc::{alloc, dealloc, Layout};

static mut DECODER: Option<Decoder> = None;

fn decoder() -> Option<&'static mut Decoder> {
    // Single-threaded wasm instance: one run at a time, driven by one caller.
    unsafe { DECODER.as_mut() }
}

/// Allocates `len` bytes (alignment 8) and returns their address, or 0 on failure.
#[no_mangle]
pub extern "C" fn vd_alloc(len: usize) -> *mut u8 {
    match Layout::from_size_align(len.max(1), 8) {
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// Frees a buffer from `vd_alloc` (or a report) of `len` bytes.
#[no_mangle]
pub extern "C" fn vd_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len.max(1), 8) {
        unsafe { dealloc(ptr, layout) }
    }
}

/// Starts a run with extra VXLAN ports (beyond 4789) and the underlay MTU; `flags` bit 0
/// turns the fast path for plain VXLAN frames off (used by tests to compare both paths);
/// bit 1 writes the report's timeline as an empty array.
#[no_mangle]
pub extern "C" fn vd_new(ports: *const u16, n_ports: usize, mtu: u32, flags: u32) -> u32 {
    let mut opts = Options::new();
    opts.fast_path = flags & 1 == 0;
    opts.timeline = flags & 2 == 0;
    opts.brief = flags & 4 != 0;
    if mtu > 0 {
        opts.underlay_mtu = mtu;
    }
    if !ports.is_null() {
        let list = unsafe { core::slice::from_raw_parts(ports, n_ports.min(decoder::MAX_VXLAN_PORTS)) };
        for &p in list {
            if !opts.add_port(p) {
                return 0;
            }
        }
    }
    unsafe {
        DECODER = Some(Decoder::new(opts));
    }
    1
}

/// Loads control-plane snapshot records (src/snapshot.rs) into the run started by `vd_new`;
/// returns the number of routes, or `0x8000_0000 | index` of the first malformed record.
#[no_mangle]
pub extern "C" fn vd_seed(ptr: *const u8, len: usize) -> u32 {
    let d = match decoder() {
        Some(d) if !ptr.is_null() => d,
        _ => return 0x8000_0000,
    };
    let buf = unsafe { core::slice::from_raw_parts(ptr, len) };
    match d.seed(buf) {
        Ok(n) => n.min(0x7fff_ffff),
        Err((index, _)) => 0x8000_0000 | index.min(0x7fff_ffff),
    }
}

/// Decodes whole records from `len` bytes at `ptr`; returns how many bytes were consumed.
#[no_mangle]
pub extern "C" fn vd_feed(ptr: *const u8, len: usize, eof: u32) -> usize {
    let d = match decoder() {
        Some(d) => d,
        None => return 0,
    };
    if ptr.is_null() {
        return 0;
    }
    let buf = unsafe { core::slice::from_raw_parts(ptr, len) };
    d.feed(buf, eof != 0)
}

/// Findings so far (`verify --live` asks for new ones with `vd_findings_since`).
#[no_mangle]
pub extern "C" fn vd_findings() -> u32 {
    decoder().map_or(0, |d| d.journal.findings.len() as u32)
}

/// Writes the findings from id `from` on as a JSON array, handed out like `vd_report`'s
/// bytes (`[ptr, len, cap]` at `retptr`, freed with `vd_free_report`); the run goes on.
#[no_mangle]
pub extern "C" fn vd_findings_since(from: u32, retptr: *mut u32) {
    if retptr.is_null() {
        return;
    }
    let mut out = match decoder() {
        Some(d) => report::findings_since(d, from as usize).out,
        None => Vec::new(),
    };
    let (ptr, len, cap) = (out.as_mut_ptr(), out.len(), out.capacity());
    core::mem::forget(out);
    unsafe {
        *retptr = ptr as usize as u32;
        *retptr.add(1) = len as u32;
        *retptr.add(2) = cap as u32;
    }
}

/// Frames decoded so far.
#[no_mangle]
pub extern "C" fn vd_packets() -> f64 {
    decoder().map_or(0.0, |d| d.stats.packets as f64)
}

/// How many findings, from id 0, can no longer change: those before the first source MAC
/// that a route may still show was advertised late (late_source.rs), at the latest frame's time.
#[no_mangle]
pub extern "C" fn vd_findings_settled() -> u32 {
    decoder().map_or(0, |d| {
        let all = d.journal.findings.len() as u32;
        d.flows.late.first_unsettled(d.stats.last_ns, &d.journal).map_or(all, |fid| fid.min(all))
    })
}

/// 1 when the input cannot be read as a capture (nothing further will decode).
#[no_mangle]
pub extern "C" fn vd_status() -> u32 {
    match decoder() {
        Some(d) if d.fatal.is_some() && d.stats.packets == 0 => 1,
        Some(_) => 0,
        None => 1,
    }
}

/// Finishes the run and hands out the JSON report as `[ptr, len, cap]` at `retptr`; the
/// caller copies the bytes out and returns the buffer with `vd_free_report(ptr, cap)`.
#[no_mangle]
pub extern "C" fn vd_report(retptr: *mut u32) {
    if retptr.is_null() {
        return;
    }
    let mut out = match decoder() {
        Some(d) => {
            d.finish();
            report::write(d).out
        }
        None => Vec::new(),
    };
    // Hand out the writer's own buffer: no second copy of a possibly large report.
    let (ptr, len, cap) = (out.as_mut_ptr(), out.len(), out.capacity());
    core::mem::forget(out);
    unsafe {
        *retptr = ptr as usize as u32;
        *retptr.add(1) = len as u32;
        *retptr.add(2) = cap as u32;
    }
}

/// Frees a report buffer handed out by `vd_report`.
#[no_mangle]
pub extern "C" fn vd_free_report(ptr: *mut u8, cap: usize) {
    if !ptr.is_null() {
        // Same pointer and capacity as the Vec forgotten in `vd_report`.
        drop(unsafe { Vec::from_raw_parts(ptr, 0, cap) });
    }
}
