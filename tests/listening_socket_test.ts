/** listeningSocketInode against the kernel's own table, on a loopback port this test opens. */
import assert from "node:assert/strict";
import { listeningSocketInode } from "../lib/net/listening_socket.ts";

Deno.test("listeningSocketInode finds a listener's inode, a new one after a re-listen", () => {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = first.addr;
  const inode = listeningSocketInode("127.0.0.1", port);
  assert.match(inode ?? "", /^[1-9][0-9]*$/);
  // The socket's inode, as /proc/self/fd shows it.
  const fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${e.name}`);
    } catch {
      return "";
    }
  });
  assert.ok(fds.includes(`socket:[${inode}]`), `socket:[${inode}] among ${fds}`);
  first.close();
  assert.equal(listeningSocketInode("127.0.0.1", port), undefined, "closed: no listener");
  const second = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const again = listeningSocketInode("127.0.0.1", port);
    assert.ok(again !== undefined && again !== inode, `new socket, new inode (${again})`);
    assert.equal(listeningSocketInode("127.0.0.2", port), undefined, "another address");
    assert.equal(listeningSocketInode("localhost", port), undefined, "not an IPv4 literal");
  } finally {
    second.close();
  }
});
