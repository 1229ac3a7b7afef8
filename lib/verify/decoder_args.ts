/** The decoder's flags that `verify FILE` and `verify --live` share, parsed and checked. */
export function decoderArgs(values: { "vxlan-port": string[]; "underlay-mtu": string }): {
  vxlanPorts: number[];
  underlayMtu: number;
} {
  const vxlanPorts = values["vxlan-port"].map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) {
      throw new Error(`--vxlan-port "${p}" is not a port number 1-65535`);
    }
    return n;
  });
  const underlayMtu = Number(values["underlay-mtu"]);
  if (!/^\d+$/.test(values["underlay-mtu"]) || underlayMtu < 68 || underlayMtu > 65535) {
    throw new Error(`--underlay-mtu "${values["underlay-mtu"]}" is not a number 68-65535`);
  }
  return { vxlanPorts, underlayMtu };
}
