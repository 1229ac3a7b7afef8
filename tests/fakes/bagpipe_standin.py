"""A stand-in for bagpipe-bgp 17's REST API that answers at once (`deno task bench add`, and the
tests of how many requests the plugin makes).

The same server stack as the real daemon (wsgiref's simple_server with ThreadingMixIn: HTTP/1.0,
one connection per request) answering GET /ping (an integer drawn at start), GET
/looking-glass/vpns/dataplane/drivers/evpn (the Linux VXLAN driver, VTEP STANDIN_VTEP or
127.0.0.1, port 4789: the plugin reads it once per network to make its VXLAN device), POST
/attach_localport (200 null) and POST /detach_localport (200 null). Like the real Linux VXLAN
driver, attach plugs the port into the instance's bridge `evpn---<id>` (created on first use),
unless the request names its own bridge (`linuxbr`), which the driver leaves to the caller. It
uses netlink in-process (pyroute2, the daemon's own library) so the daemon's side costs ~nothing:
what the bench measures is the plugin. Prints "ready <port>" once it listens; with a
REQUEST_LOG, appends one JSON line per request ({"method", "path", "body"}) to it. With
STANDIN_DELAY_MS in the environment, attach and detach answer that much later (a daemon whose
per-instance queue is long); with STANDIN_IDENTITY, /ping answers it (a restart that the plugin
must not take for a daemon that lost its endpoints).
Usage: /usr/bin/python3 bagpipe_standin.py PORT [REQUEST_LOG]
"""
import json
import os
import random
import socketserver
import sys
import threading
import time
from wsgiref import simple_server

from pyroute2 import IPRoute

IDENTITY = os.environ.get("STANDIN_IDENTITY", str(random.randint(2**62, 2**63 - 1))).encode()
ipr = IPRoute()
lock = threading.Lock()


def _plug(body):
    if body.get("linuxbr"):
        return
    bridge = "evpn---" + body["vpn_instance_id"]
    with lock:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            ipr.link("add", ifname=bridge, kind="bridge")
            found = ipr.link_lookup(ifname=bridge)
            ipr.link("set", index=found[0], state="up")
        port = ipr.link_lookup(ifname=body["local_port"]["linuxif"])
        if not port:
            raise LookupError("no interface " + body["local_port"]["linuxif"])
        ipr.link("set", index=port[0], master=found[0])


def app(environ, start_response):
    path = environ["PATH_INFO"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"null")
    if len(sys.argv) > 2:
        with lock, open(sys.argv[2], "a") as log:
            log.write(json.dumps({"method": environ["REQUEST_METHOD"], "path": path,
                                  "body": body}) + "\n")
    status, answer = "200 OK", b"null"
    try:
        if path == "/ping":
            answer = IDENTITY
        elif path == "/looking-glass/vpns/dataplane/drivers/evpn":
            answer = json.dumps({"name": "LinuxVXLANDataplaneDriver",
                                 "local_address": os.environ.get("STANDIN_VTEP", "127.0.0.1"),
                                 "config": {"vxlan_dst_port": 4789}}).encode()
        elif path in ("/attach_localport", "/detach_localport"):
            time.sleep(int(os.environ.get("STANDIN_DELAY_MS", "0")) / 1000)
        if path == "/attach_localport":
            _plug(body)
        elif path not in ("/ping", "/detach_localport",
                          "/looking-glass/vpns/dataplane/drivers/evpn"):
            status, answer = "404 Not Found", b'{"code": 404, "title": "Not Found"}'
    except Exception as error:  # the real daemon answers 500 with a JSON description
        status = "500 Internal Server Error"
        answer = json.dumps({"code": 500, "title": "Internal Server Error",
                             "description": str(error)}).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(answer)))])
    return [answer]


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = simple_server.make_server("127.0.0.1", int(sys.argv[1]), app, server_class=_Server,
                                   handler_class=_Quiet)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
