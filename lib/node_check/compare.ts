/**
 * The comparison itself, on state already read: the daemon's received routes against the VXLAN
 * device's fdb and neighbour entries, and the plugin's attachment records against the veths and
 * the daemon's ports and advertised routes. Pure: the same inputs always give the same findings.
 */
import type { EvpnRoute } from "../bagpipe/evpn_routes.ts";
import type { AttachmentRecord } from "../state/attachments.ts";
import type { DaemonInstance, DaemonState } from "./daemon_state.ts";
import type { NodeFinding } from "./findings.ts";
import type { InstanceDevices } from "./instance_devices.ts";
import type { FdbEntry, KernelLink, NeighEntry } from "./kernel_state.ts";

const ZERO_MAC = "00:00:00:00:00:00";

/** What was read about one instance's devices. */
export interface InstanceKernelState extends InstanceDevices {
  fdb: FdbEntry[];
  neigh: NeighEntry[];
}

/** Everything the comparison needs. */
export interface CompareInput {
  daemon: DaemonState;
  links: Map<string, KernelLink>;
  /** Per instance id. */
  kernel: Map<string, InstanceKernelState>;
  /** The records of pods attached to this daemon. */
  records: AttachmentRecord[];
}

/** Compares and returns the findings, instance by instance, then records, then devices. */
export function compareNode(input: CompareInput): NodeFinding[] {
  const findings: NodeFinding[] = [];
  for (const instance of input.daemon.instances) {
    const kernel = input.kernel.get(instance.id);
    if (!kernel?.vxlan) {
      if (instance.ports.length > 0) {
        findings.push({
          kind: "vxlan_device_missing",
          instance: instance.id,
          vni: instance.vni,
          device: kernel?.bridge,
          message: `VPN instance "${instance.id}" (VNI ${instance.vni}) has no VXLAN device on ${
            kernel?.bridge ? `bridge ${kernel.bridge}` : "any bridge its ports are plugged into"
          }`,
        });
      }
      continue;
    }
    findings.push(..._compareForwarding(instance, kernel.vxlan, kernel));
  }
  findings.push(..._compareRecords(input));
  for (const link of input.links.values()) {
    if (link.kind === "vxlan" && link.master === undefined) {
      findings.push({
        kind: "vxlan_without_bridge",
        device: link.name,
        vni: link.vni,
        message: `VXLAN device ${link.name} (VNI ${link.vni ?? "?"}) is plugged into no bridge`,
      });
    }
  }
  return findings;
}

/** Received routes against the device's fdb (MAC → VTEP, flood list) and neighbours (IP → MAC). */
function _compareForwarding(
  instance: DaemonInstance,
  device: string,
  kernel: InstanceKernelState,
): NodeFinding[] {
  const findings: NodeFinding[] = [];
  const base = { instance: instance.id, device };
  const macRoutes = instance.received.filter((r) => r.type === "mac_ip" && r.mac);
  const vniOf = (r?: EvpnRoute) => r?.vni ?? instance.vni;

  // MAC → VTEP.
  const vtepsByMac = new Map<string, EvpnRoute[]>();
  for (const route of macRoutes) {
    vtepsByMac.set(route.mac!, [...(vtepsByMac.get(route.mac!) ?? []), route]);
  }
  const remote = kernel.fdb.filter((e) => e.self && e.dst !== undefined);
  const entriesByMac = new Map<string, FdbEntry[]>();
  for (const entry of remote) {
    entriesByMac.set(entry.mac, [...(entriesByMac.get(entry.mac) ?? []), entry]);
  }
  for (const [mac, routes] of vtepsByMac) {
    const ip = routes.find((r) => r.ip)?.ip;
    const expected = [...new Set(routes.map((r) => r.nextHop))].sort();
    const entries = entriesByMac.get(mac) ?? [];
    if (entries.length === 0) {
      findings.push({
        ...base,
        kind: "fdb_missing",
        vni: vniOf(routes[0]),
        mac,
        ip,
        vtep: expected.join(","),
        message: `no fdb entry on ${device} for MAC ${mac}${_ip(ip)} (VNI ${
          vniOf(routes[0])
        }) advertised by VTEP ${expected.join(", ")}`,
      });
      continue;
    }
    for (const entry of entries.filter((e) => !expected.includes(e.dst!))) {
      findings.push({
        ...base,
        kind: "fdb_wrong_vtep",
        vni: vniOf(routes[0]),
        mac,
        ip,
        vtep: entry.dst,
        expectedVteps: expected,
        message: `fdb entry on ${device} sends MAC ${mac}${_ip(ip)} (VNI ${
          vniOf(routes[0])
        }) to VTEP ${entry.dst}, which did not advertise it (advertised by ${expected.join(", ")})`,
      });
    }
  }
  for (const [mac, entries] of entriesByMac) {
    if (mac === ZERO_MAC || vtepsByMac.has(mac)) continue;
    for (const entry of entries) {
      findings.push({
        ...base,
        kind: "fdb_stale",
        vni: instance.vni,
        mac,
        vtep: entry.dst,
        message:
          `fdb entry on ${device} sends MAC ${mac} (VNI ${instance.vni}) to VTEP ${entry.dst}, but no received route carries that MAC`,
      });
    }
  }

  // Flood list: one all-zeros entry per VTEP that advertised the VNI (type 3).
  const floodRoutes = instance.received.filter((r) => r.type === "multicast");
  const expectedFlood = new Set(floodRoutes.map((r) => r.nextHop));
  const actualFlood = new Set((entriesByMac.get(ZERO_MAC) ?? []).map((e) => e.dst!));
  for (const vtep of expectedFlood) {
    if (actualFlood.has(vtep)) continue;
    findings.push({
      ...base,
      kind: "flood_missing",
      vni: vniOf(floodRoutes.find((r) => r.nextHop === vtep)),
      vtep,
      message:
        `flood list of ${device} (VNI ${instance.vni}) lacks VTEP ${vtep}, which advertised the VNI`,
    });
  }
  for (const vtep of actualFlood) {
    if (expectedFlood.has(vtep)) continue;
    findings.push({
      ...base,
      kind: "flood_stale",
      vni: instance.vni,
      vtep,
      message:
        `flood list of ${device} (VNI ${instance.vni}) holds VTEP ${vtep}, which has no type-3 route for it`,
    });
  }

  // IP → MAC: the daemon installs permanent neighbour entries; learned ones are the kernel's own.
  const macByIp = new Map<string, EvpnRoute>();
  for (const route of macRoutes) if (route.ip) macByIp.set(route.ip, route);
  const permanent = kernel.neigh.filter((n) => n.states.includes("PERMANENT"));
  const neighByIp = new Map(kernel.neigh.map((n) => [n.ip, n]));
  for (const [ip, route] of macByIp) {
    const neigh = neighByIp.get(ip);
    if (!neigh?.mac) {
      findings.push({
        ...base,
        kind: "neigh_missing",
        vni: vniOf(route),
        mac: route.mac,
        ip,
        vtep: route.nextHop,
        message: `no neighbour entry on ${device} for IP ${ip} (MAC ${route.mac}, VNI ${
          vniOf(route)
        }, VTEP ${route.nextHop})`,
      });
    } else if (neigh.mac !== route.mac) {
      findings.push({
        ...base,
        kind: "neigh_wrong_mac",
        vni: vniOf(route),
        mac: neigh.mac,
        expectedMac: route.mac,
        ip,
        vtep: route.nextHop,
        message:
          `neighbour entry on ${device} gives IP ${ip} MAC ${neigh.mac}, the route from VTEP ${route.nextHop} says ${route.mac} (VNI ${
            vniOf(route)
          })`,
      });
    }
  }
  for (const neigh of permanent) {
    if (macByIp.has(neigh.ip)) continue;
    findings.push({
      ...base,
      kind: "neigh_stale",
      vni: instance.vni,
      mac: neigh.mac,
      ip: neigh.ip,
      message: `permanent neighbour entry on ${device} for IP ${neigh.ip} (MAC ${
        neigh.mac ?? "none"
      }, VNI ${instance.vni}), but no received route carries that IP`,
    });
  }
  return findings;
}

/** Records against veths, daemon endpoints and advertised routes; daemon ports against records. */
function _compareRecords(input: CompareInput): NodeFinding[] {
  const findings: NodeFinding[] = [];
  const instances = new Map(input.daemon.instances.map((i) => [i.id, i]));
  for (const record of input.records) {
    const name = `${record.containerId}/${record.ifname}`;
    const ip = _attachedIp(record);
    const instance = instances.get(record.instanceId);
    const base = {
      instance: record.instanceId,
      vni: instance?.vni ?? record.vni,
      mac: record.mac,
      ip,
      record: name,
      device: record.hostVeth,
    };
    if (!input.links.has(record.hostVeth)) {
      findings.push({
        ...base,
        kind: "record_without_veth",
        message: `attachment record ${name} (MAC ${record.mac}${
          _ip(ip)
        }) names host veth ${record.hostVeth}, which does not exist`,
      });
      continue;
    }
    const endpoint = instance?.ports.find((p) =>
      p.localPort === record.hostVeth && p.macAddress.toLowerCase() === record.mac.toLowerCase()
    );
    if (!endpoint) {
      findings.push({
        ...base,
        kind: "port_not_attached",
        port: record.hostVeth,
        message: `pod ${name} (MAC ${record.mac}${
          _ip(ip)
        }, veth ${record.hostVeth}) is not attached to VPN instance "${record.instanceId}" of the daemon`,
      });
      continue;
    }
    const advertised = instance!.advertised.some((r) =>
      r.type === "mac_ip" && r.mac === record.mac.toLowerCase()
    );
    if (!advertised) {
      findings.push({
        ...base,
        kind: "route_not_advertised",
        port: endpoint.localPort,
        vtep: _localVtep(instance!),
        message: `pod ${name} (MAC ${record.mac}${
          _ip(ip)
        }) is attached on port ${endpoint.localPort} but the daemon advertises no route for it in VPN instance "${record.instanceId}"`,
      });
    }
  }

  const recorded = new Set(input.records.map((r) => `${r.hostVeth}|${r.mac.toLowerCase()}`));
  const bridges = new Set<string>();
  for (const kernel of input.kernel.values()) if (kernel.bridge) bridges.add(kernel.bridge);
  for (const instance of input.daemon.instances) {
    for (const port of instance.ports) {
      // Bridges are gateway endpoints of the plugin-owned layout, not pods.
      if (input.links.get(port.localPort)?.kind === "bridge") continue;
      if (recorded.has(`${port.localPort}|${port.macAddress.toLowerCase()}`)) continue;
      const ip = port.ipAddress?.split("/")[0];
      findings.push({
        kind: "port_without_record",
        instance: instance.id,
        vni: instance.vni,
        mac: port.macAddress.toLowerCase(),
        ip,
        port: port.localPort,
        device: input.links.has(port.localPort) ? port.localPort : undefined,
        message: `the daemon has endpoint MAC ${port.macAddress.toLowerCase()}${
          _ip(ip)
        } on port ${port.localPort} in VPN instance "${instance.id}" (${
          port.description ?? "no description"
        }) that no attachment record accounts for`,
      });
    }
  }
  const recordedVeths = new Set(input.records.map((r) => r.hostVeth));
  for (const link of input.links.values()) {
    if (link.kind !== "veth" || !link.master || !bridges.has(link.master)) continue;
    if (recordedVeths.has(link.name)) continue;
    findings.push({
      kind: "veth_without_record",
      device: link.name,
      mac: link.mac,
      message:
        `veth ${link.name} is plugged into bridge ${link.master} but no attachment record names it`,
    });
  }
  return findings;
}

function _attachedIp(record: AttachmentRecord): string | undefined {
  return record.ips.find((ip) => !ip.includes(":"))?.split("/")[0];
}

function _localVtep(instance: DaemonInstance): string | undefined {
  return instance.advertised.find((r) => r.type === "multicast")?.nextHop;
}

function _ip(ip: string | undefined): string {
  return ip ? ` IP ${ip}` : "";
}
