/**
 * The kernel's identity of a listening TCP socket: its inode, read from /proc/net/tcp of the
 * caller's network namespace (a file read, no spawn, ~0.1 ms). A process that restarts opens a
 * new socket with a new inode, so an unchanged inode means the same listening process.
 */

const LISTEN = "0A";

/**
 * The inode of the IPv4 socket listening on `host:port` (or on 0.0.0.0:`port`) in this netns, as
 * text; undefined when there is none, or when `host` is not an IPv4 literal.
 */
export function listeningSocketInode(host: string, port: number): string | undefined {
  const octets = host.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    return undefined;
  }
  // The kernel prints the address as the 32-bit word it holds in network order, in host order.
  const bytes = new Uint8Array(octets);
  const word = new DataView(bytes.buffer).getUint32(0, _littleEndian());
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0");
  const wanted = [`${hex(word, 8)}:${hex(port, 4)}`, `00000000:${hex(port, 4)}`];
  let table: string;
  try {
    table = _listeningSection("/proc/net/tcp");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n")) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields[3] === LISTEN && wanted.includes(fields[1]!)) return fields[9];
  }
  return undefined;
}

function _littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/**
 * The start of the table, up to the first socket that is not listening: the kernel lists the
 * listening sockets first, so a node with many connections does not make us read them all.
 */
function _listeningSection(path: string): string {
  const file = Deno.openSync(path);
  try {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    let text = "";
    for (;;) {
      const count = file.readSync(buffer);
      if (count === null) return text;
      text += decoder.decode(buffer.subarray(0, count), { stream: true });
      const lines = text.split("\n");
      // Whole lines after the header that are not LISTEN: the listening section is over.
      if (lines.slice(1, -1).some((l) => l.trim().split(/\s+/)[3] !== LISTEN)) return text;
    }
  } finally {
    file.close();
  }
}
