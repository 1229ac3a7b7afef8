/**
 * BagpipeClient against the fake bagpipe-bgp daemon: happy paths, every failure kind,
 * request checks, and one run over real loopback sockets.
 */
import assert from "node:assert/strict";
import {
  type AttachRequest,
  BagpipeClient,
  BagpipeError,
  type BagpipeFailure,
} from "../lib/bagpipe/mod.ts";
import { type BagpipeFakeOptions, createBagpipeFake, type Fault } from "./fakes/bagpipe_fake.ts";

const BASE_URL = "http://127.0.0.1:8082";
/** What `int(uuid.uuid4())` gives: far beyond Number.MAX_SAFE_INTEGER. */
const IDENTITY = "253863677412519694743721029458276608176";

const POD_A: AttachRequest = {
  vpnInstanceId: "net1",
  macAddress: "52:54:00:aa:00:01",
  localPort: "veth0a1b2c3d",
  ipAddress: "10.27.0.5/16",
  gatewayIp: "10.27.0.1",
  importRt: ["64512:100"],
  exportRt: ["64512:100"],
};

const POD_B: AttachRequest = {
  ...POD_A,
  macAddress: "52:54:00:aa:00:02",
  localPort: "veth0e4f5a6b",
  ipAddress: "10.27.0.6/16",
};

function _setup(fakeOptions: BagpipeFakeOptions = {}, timeoutMs = 1000) {
  const fake = createBagpipeFake({ identity: IDENTITY, ...fakeOptions });
  const client = new BagpipeClient(BASE_URL, { fetch: fake.fetch, timeoutMs });
  return { fake, client };
}

/** Runs `call` and returns the BagpipeError it must throw. */
async function _failure(call: () => Promise<unknown>): Promise<BagpipeError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof BagpipeError) return error;
    throw new Error(`expected a BagpipeError, got ${error}`, { cause: error });
  }
  throw new Error("expected a BagpipeError, the call succeeded");
}

Deno.test({
  name: "BagpipeClient happy paths",
  permissions: "none",
  async fn(t) {
    await t.step("ping() returns the identity as exact text beyond 2^53", async () => {
      const { client } = _setup();
      assert.equal(await client.ping(), IDENTITY);
    });

    await t.step("attach() sends the daemon's wire format and JSON headers", async () => {
      const { fake, client } = _setup();
      await client.attach({
        ...POD_A,
        macAddress: "52:54:00:AA:00:01",
        vni: 5002,
        readvertise: { fromRt: ["64512:210"], toRt: ["64512:220"] },
        description: "pod a",
      });
      const [request] = fake.requests;
      assert.equal(request.method, "POST");
      assert.equal(request.path, "/attach_localport");
      assert.equal(request.accept, "application/json");
      assert.equal(request.contentType, "application/json");
      assert.deepEqual(request.body, {
        vpn_type: "evpn",
        vpn_instance_id: "net1",
        mac_address: "52:54:00:aa:00:01",
        local_port: { linuxif: "veth0a1b2c3d" },
        ip_address: "10.27.0.5/16",
        gateway_ip: "10.27.0.1",
        import_rt: ["64512:100"],
        export_rt: ["64512:100"],
        vni: 5002,
        readvertise: { from_rt: ["64512:210"], to_rt: ["64512:220"] },
        description: "pod a",
      });
    });

    await t.step("attach() leaves optional fields and a zero VNI out of the body", async () => {
      const { fake, client } = _setup();
      await client.attach({ ...POD_A, ipAddress: undefined, gatewayIp: undefined, vni: 0 });
      assert.deepEqual(Object.keys(fake.requests[0].body as object).sort(), [
        "export_rt",
        "import_rt",
        "local_port",
        "mac_address",
        "vpn_instance_id",
        "vpn_type",
      ]);
    });

    await t.step("attach() repeated identically succeeds (the daemon is idempotent)", async () => {
      const { fake, client } = _setup();
      await client.attach(POD_A);
      await client.attach(POD_A);
      assert.equal(fake.endpoints().length, 1);
    });

    await t.step("detach() without ipAddress removes every IP of the MAC", async () => {
      const { fake, client } = _setup();
      await client.attach(POD_A);
      await client.attach({ ...POD_A, ipAddress: "10.27.0.50/16" });
      await client.attach(POD_B);
      await client.detach({
        vpnInstanceId: "net1",
        macAddress: "52:54:00:AA:00:01",
        localPort: POD_A.localPort,
      });
      assert.deepEqual(fake.endpoints().map((endpoint) => endpoint.macAddress), [
        POD_B.macAddress,
      ]);
    });

    await t.step("detach() of the last endpoint removes the instance", async () => {
      const { fake, client } = _setup();
      await client.attach(POD_A);
      await client.detach({ ...POD_A });
      assert.deepEqual(fake.instanceIds(), []);
    });

    await t.step("peers() returns id and state of each BGP peer", async () => {
      const { client } = _setup({
        peers: [{ id: "10.0.0.9", state: "Established" }, { id: "10.0.0.10", state: "Active" }],
      });
      assert.deepEqual(await client.peers(), [
        { id: "10.0.0.9", state: "Established" },
        { id: "10.0.0.10", state: "Active" },
      ]);
    });

    await t.step("instances() and instance() return typed instance data", async () => {
      const { client } = _setup();
      await client.attach({ ...POD_A, vni: 7003, readvertise: { fromRt: ["1:1"], toRt: ["1:2"] } });
      assert.deepEqual(await client.instances(), [{ id: "net1", name: "EVI-1" }]);
      assert.deepEqual(await client.instance("net1"), {
        id: "net1",
        name: "EVI-1",
        instanceType: "EVI",
        vni: 7003,
        importRts: ["64512:100"],
        exportRts: ["64512:100"],
        gatewayIp: "10.27.0.1",
        subnetPrefixLength: 16,
        readvertise: { fromRts: ["1:1"], toRts: ["1:2"] },
        description: null,
      });
    });

    await t.step("instance() and instancePorts() return null for an unknown instance", async () => {
      const { client } = _setup();
      assert.equal(await client.instance("nope"), null);
      assert.equal(await client.instancePorts("nope"), null);
    });

    await t.step("instancePorts() lists the endpoints with port, MAC, IP and RD", async () => {
      const { client } = _setup();
      await client.attach({ ...POD_A, description: "pod a" });
      assert.deepEqual(await client.instancePorts("net1"), [{
        vpnInstanceId: "net1",
        localPort: POD_A.localPort,
        macAddress: POD_A.macAddress,
        ipAddress: POD_A.ipAddress,
        label: 17,
        routeDistinguisher: "10.213.0.1:1",
        description: "pod a",
        direction: "both",
        localPref: null,
      }]);
    });

    await t.step("findEndpoint() matches the MAC in any case and the IP exactly", async () => {
      const { client } = _setup();
      await client.attach(POD_A);
      const query = { vpnInstanceId: "net1", macAddress: "52:54:00:AA:00:01" };
      assert.equal((await client.findEndpoint(query))?.localPort, POD_A.localPort);
      assert.notEqual(await client.findEndpoint({ ...query, ipAddress: "10.27.0.5/16" }), null);
      assert.equal(await client.findEndpoint({ ...query, ipAddress: "10.27.0.5/32" }), null);
      assert.equal(await client.findEndpoint({ ...query, vpnInstanceId: "other" }), null);
    });

    await t.step("attachedEndpoints() lists the endpoints of every instance", async () => {
      const { client } = _setup();
      await client.attach(POD_A);
      await client.attach({ ...POD_B, vpnInstanceId: "net2", importRt: [], exportRt: [] });
      const endpoints = await client.attachedEndpoints();
      assert.deepEqual(
        endpoints.map((endpoint) => [endpoint.vpnInstanceId, endpoint.macAddress]),
        [["net1", POD_A.macAddress], ["net2", POD_B.macAddress]],
      );
    });
  },
});

interface FailureCase {
  name: string;
  fake?: BagpipeFakeOptions;
  /** Requests made before the faults are armed. */
  before?: (client: BagpipeClient) => Promise<unknown>;
  fault?: Fault;
  timeoutMs?: number;
  call: (client: BagpipeClient) => Promise<unknown>;
  failure: BagpipeFailure;
  status: number | undefined;
  /** Substrings of the error detail. */
  detail: string[];
  /** Substrings of the error message besides the detail (operation, object, URL). */
  message: string[];
  /** Extra check on the fake after the call. */
  after?: (fake: ReturnType<typeof createBagpipeFake>) => void;
}

const ATTACH_SUBJECT = [
  "failed to attach MAC 52:54:00:aa:00:01",
  'VPN instance "net1"',
  `POST ${BASE_URL}/attach_localport`,
];

const FAILURE_CASES: FailureCase[] = [
  {
    name: "attach() maps a 400 to rejected with the daemon's message",
    before: (client) => client.attach(POD_B),
    call: (client) => client.attach({ ...POD_A, ipAddress: POD_B.ipAddress }),
    failure: "rejected",
    status: 400,
    detail: ["API error: Inconsistent endpoint info: IP 10.27.0.6/16 already bound"],
    message: [...ATTACH_SUBJECT, "daemon rejected the request (HTTP 400)"],
  },
  {
    name: "attach() maps a 500 to server with the daemon's message",
    fake: { interfaces: ["some-other-if"] },
    call: (client) => client.attach(POD_A),
    failure: "server",
    status: 500,
    detail: ["An error occurred during local port plug to VPN"],
    message: [...ATTACH_SUBJECT, "daemon failed (HTTP 500)"],
    // Bug B3: the instance of a failed first attach stays registered.
    after: (fake) => assert.deepEqual(fake.instanceIds(), ["net1"]),
  },
  {
    name: "detach() maps stock bug B1 to server, and the endpoint stays",
    fake: { detachBug: true },
    before: (client) => client.attach(POD_A),
    call: (client) => client.detach(POD_A),
    failure: "server",
    status: 500,
    detail: ["An error occurred during local port unplug from VPN"],
    message: ["failed to detach MAC 52:54:00:aa:00:01", `POST ${BASE_URL}/detach_localport`],
    after: (fake) => assert.deepEqual(fake.endpoints().map((e) => e.advertised), [false]),
  },
  {
    name: "detach() maps an unknown instance to rejected with the daemon's message",
    call: (client) => client.detach({ ...POD_A, vpnInstanceId: "gone" }),
    failure: "rejected",
    status: 400,
    detail: ["API error: VPN gone could not be found"],
    message: ['VPN instance "gone"'],
  },
  {
    name: "ping() maps connection refused to unreachable",
    fault: { kind: "refused" },
    call: (client) => client.ping(),
    failure: "unreachable",
    status: undefined,
    detail: ["Connection refused"],
    message: ["failed to ping the daemon", `GET ${BASE_URL}/ping`, "daemon unreachable"],
  },
  {
    name: "attach() maps a reset after processing to unreachable (the attach happened)",
    fault: { kind: "reset" },
    call: (client) => client.attach(POD_A),
    failure: "unreachable",
    status: undefined,
    detail: ["connection closed before message completed"],
    message: ATTACH_SUBJECT,
    after: (fake) => assert.equal(fake.endpoints().length, 1),
  },
  {
    name: "ping() maps a slow answer to timeout",
    fault: { kind: "delay", ms: 2000 },
    timeoutMs: 50,
    call: (client) => client.ping(),
    failure: "timeout",
    status: undefined,
    detail: ["no answer after 50 ms"],
    message: ["failed to ping the daemon", "did not answer in time"],
  },
  {
    name: "instances() maps a body slower than the timeout to timeout",
    fault: { kind: "slow-body", ms: 2000 },
    timeoutMs: 50,
    call: (client) => client.instances(),
    failure: "timeout",
    status: 200,
    detail: ["answer body incomplete after 50 ms"],
    message: ["failed to list VPN instances", `GET ${BASE_URL}/looking-glass/vpns/instances`],
  },
  {
    name: "attach() maps an HTML 500 page to server with a cleaned excerpt",
    fault: { kind: "html-error", status: 500, message: "upstream <daemon> is 'down'" },
    call: (client) => client.attach(POD_A),
    failure: "server",
    status: 500,
    detail: [
      "500 Internal Server Error The server has either erred or is incapable",
      "upstream <daemon> is 'down'",
    ],
    message: ATTACH_SUBJECT,
    after: (fake) => assert.equal(fake.endpoints().length, 0),
  },
  {
    name: "attach() maps an HTML 502 page from a proxy to server",
    fault: { kind: "html-error", status: 502, message: "no upstream" },
    call: (client) => client.attach(POD_A),
    failure: "server",
    status: 502,
    detail: ["502 Bad Gateway", "no upstream"],
    message: ATTACH_SUBJECT,
  },
  {
    name: "ping() maps a garbage body to bad-response",
    fault: { kind: "garbage" },
    call: (client) => client.ping(),
    failure: "bad-response",
    status: 200,
    detail: ["body is not JSON: <<< this is not JSON {"],
    message: ["failed to ping the daemon", "unexpected answer (HTTP 200)"],
  },
  {
    name: "ping() maps a non-integer identity to bad-response",
    fault: { kind: "garbage", body: '"abc"' },
    call: (client) => client.ping(),
    failure: "bad-response",
    status: 200,
    detail: ['identity "abc" is not an integer'],
    message: ["failed to ping the daemon"],
  },
  {
    name: "instancePorts() maps a truncated body to bad-response",
    before: (client) => client.attach(POD_A),
    fault: { kind: "truncated" },
    call: (client) => client.instancePorts("net1"),
    failure: "bad-response",
    status: 200,
    detail: ['body is not JSON: {"veth0a1b2c3d":'],
    message: ['failed to list ports of VPN instance "net1"'],
  },
  {
    name: "peers() maps a wrong content type to bad-response",
    fault: { kind: "content-type", contentType: "text/html" },
    call: (client) => client.peers(),
    failure: "bad-response",
    status: 200,
    detail: ['expected application/json, got "text/html"', '"Established"'],
    message: ["failed to list BGP peers", `GET ${BASE_URL}/looking-glass/bgp/peers`],
  },
  {
    name: "peers() maps JSON of the wrong shape to bad-response",
    fault: { kind: "garbage", body: '[{"id": "10.0.0.9"}]' },
    call: (client) => client.peers(),
    failure: "bad-response",
    status: 200,
    detail: ['peer #0 is not {id: string, state: string}: {"id":"10.0.0.9"}'],
    message: ["failed to list BGP peers"],
  },
  {
    name: "instances() maps a connection cut mid-body to unreachable",
    fault: { kind: "cut-connection" },
    call: (client) => client.instances(),
    failure: "unreachable",
    status: 200,
    detail: ["connection lost while reading the answer", "error reading a body"],
    message: ["failed to list VPN instances"],
  },
  {
    name: "instance() maps a 404 that is not the looking glass's to rejected",
    fault: { kind: "html-error", status: 404, message: "no such page" },
    call: (client) => client.instance("net1"),
    failure: "rejected",
    status: 404,
    detail: ["404 Not Found", "no such page"],
    message: ['failed to read VPN instance "net1"'],
  },
  {
    name: "attach() maps a redirect to bad-response",
    fault: { kind: "garbage", status: 302, body: "moved" },
    call: (client) => client.attach(POD_A),
    failure: "bad-response",
    status: 302,
    detail: ["status 302 is not an answer the daemon gives: moved"],
    message: ATTACH_SUBJECT,
  },
];

Deno.test({
  name: "BagpipeClient failures",
  permissions: "none",
  async fn(t) {
    for (const failureCase of FAILURE_CASES) {
      await t.step(failureCase.name, async () => {
        const { fake, client } = _setup(failureCase.fake, failureCase.timeoutMs);
        await failureCase.before?.(client);
        if (failureCase.fault !== undefined) fake.inject(failureCase.fault);
        const started = performance.now();
        const error = await _failure(() => failureCase.call(client));
        const elapsed = performance.now() - started;
        assert.equal(error.failure, failureCase.failure, error.message);
        assert.equal(error.status, failureCase.status, error.message);
        for (const part of failureCase.detail) assert.ok(error.detail.includes(part), error.detail);
        for (const part of [...failureCase.message, error.detail]) {
          assert.ok(error.message.includes(part), `${JSON.stringify(part)} in ${error.message}`);
        }
        if (failureCase.timeoutMs !== undefined) assert.ok(elapsed < 1000, `took ${elapsed} ms`);
        failureCase.after?.(fake);
      });
    }
  },
});

const INVALID_ATTACHES: { name: string; change: Partial<AttachRequest>; problem: string }[] = [
  { name: "a MAC without colons", change: { macAddress: "525400aa0001" }, problem: "macAddress" },
  { name: "an IP without prefix length", change: { ipAddress: "10.27.0.5" }, problem: "ipAddress" },
  { name: "an IP octet above 255", change: { ipAddress: "10.27.0.500/16" }, problem: "ipAddress" },
  {
    name: "an IP with leading zeros",
    change: { ipAddress: "10.27.0.05/16" },
    problem: "ipAddress",
  },
  { name: "a prefix length above 32", change: { ipAddress: "10.27.0.5/33" }, problem: "ipAddress" },
  { name: "a gateway with a prefix", change: { gatewayIp: "10.27.0.1/16" }, problem: "gatewayIp" },
  { name: "a route target without ':'", change: { importRt: ["64512"] }, problem: "importRt" },
  {
    name: "a 4-byte ASN route target with a 32-bit number",
    change: { exportRt: ["4200000000:70000"] },
    problem: "exportRt",
  },
  { name: "a VNI above 24 bits", change: { vni: 0x1000000 }, problem: "vni" },
  { name: "a fractional VNI", change: { vni: 1.5 }, problem: "vni" },
  {
    name: "advertiseSubnet with a /16 (EVPN asserts /32, 500)",
    change: { advertiseSubnet: true },
    problem: "advertiseSubnet",
  },
  {
    name: "a readvertise route target that is not ASN:NN",
    change: { readvertise: { fromRt: ["1:1"], toRt: ["x:2"] } },
    problem: "readvertise.toRt",
  },
  {
    name: "an interface name over 15 bytes",
    change: { localPort: "veth0123456789ab" },
    problem: "localPort",
  },
  { name: "an empty instance id", change: { vpnInstanceId: "" }, problem: "vpnInstanceId" },
  { name: "an instance id with '/'", change: { vpnInstanceId: "a/b" }, problem: "vpnInstanceId" },
];

Deno.test({
  name: "BagpipeClient refuses invalid requests before sending them",
  permissions: "none",
  async fn(t) {
    for (const invalid of INVALID_ATTACHES) {
      await t.step(`attach() refuses ${invalid.name}`, async () => {
        const { fake, client } = _setup();
        const error = await _failure(() => client.attach({ ...POD_A, ...invalid.change }));
        assert.equal(error.failure, "rejected");
        assert.equal(error.status, undefined);
        assert.ok(error.detail.startsWith(invalid.problem), error.detail);
        assert.ok(error.message.includes("request not sent"), error.message);
        assert.equal(fake.requests.length, 0);
      });
    }

    await t.step("attach() reports every problem of a request at once", async () => {
      const { client } = _setup();
      const error = await _failure(() =>
        client.attach({ ...POD_A, macAddress: "zz", importRt: ["x"], vni: -1 })
      );
      assert.equal(error.detail.split("; ").length, 3, error.detail);
    });

    await t.step("detach() refuses an invalid MAC without sending it", async () => {
      const { fake, client } = _setup();
      const error = await _failure(() => client.detach({ ...POD_A, macAddress: "zz" }));
      assert.equal(error.failure, "rejected");
      assert.equal(fake.requests.length, 0);
    });
  },
});

/** A TCP server on 127.0.0.1 that reads each request and closes without answering. */
function _hangUpServer(): { url: string; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096)).catch(() => null);
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    close: async () => {
      listener.close();
      await accepting.catch(() => {});
    },
  };
}

/** A loopback port with nothing listening (bound, then released). */
function _closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test({
  name: "BagpipeClient over real loopback sockets",
  permissions: { net: ["127.0.0.1"] },
  async fn(t) {
    const fake = createBagpipeFake({ identity: IDENTITY });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      fake.app.fetch,
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    try {
      await t.step("ping() and attach() work over a socket", async () => {
        const client = new BagpipeClient(url, { timeoutMs: 2000 });
        assert.equal(await client.ping(), IDENTITY);
        await client.attach(POD_A);
        assert.equal((await client.findEndpoint(POD_A))?.localPort, POD_A.localPort);
      });

      await t.step("a slow answer times out within the budget", async () => {
        fake.inject({ kind: "delay", ms: 3000 }, { path: "/ping", times: 1 });
        const client = new BagpipeClient(url, { timeoutMs: 150 });
        const started = performance.now();
        const error = await _failure(() => client.ping());
        const elapsed = performance.now() - started;
        assert.equal(error.failure, "timeout", error.message);
        assert.ok(elapsed >= 140 && elapsed < 1000, `took ${elapsed} ms`);
      });

      await t.step("a body slower than the budget times out", async () => {
        fake.inject({ kind: "slow-body", ms: 3000 }, { path: "/ping", times: 1 });
        const client = new BagpipeClient(url, { timeoutMs: 150 });
        const error = await _failure(() => client.ping());
        assert.equal(error.failure, "timeout", error.message);
        assert.equal(error.status, 200);
      });

      await t.step("a connection cut mid-body is unreachable", async () => {
        fake.inject({ kind: "cut-connection" }, { path: "/ping", times: 1 });
        const client = new BagpipeClient(url, { timeoutMs: 2000 });
        const error = await _failure(() => client.ping());
        assert.equal(error.failure, "unreachable", error.message);
        assert.ok(error.detail.startsWith("connection lost while reading"), error.detail);
      });

      await t.step("a server that hangs up without answering is unreachable", async () => {
        const hangUp = _hangUpServer();
        try {
          const client = new BagpipeClient(hangUp.url, { timeoutMs: 2000 });
          const error = await _failure(() => client.ping());
          assert.equal(error.failure, "unreachable", error.message);
          assert.equal(error.status, undefined);
        } finally {
          await hangUp.close();
        }
      });

      await t.step("a chunked answer in several writes is read whole", async () => {
        const chunked = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
          const parts = ["1234567890", "1234567890", "123"];
          const body = new ReadableStream<Uint8Array>({
            async pull(controller) {
              const part = parts.shift();
              if (part === undefined) return controller.close();
              await new Promise((resolve) => setTimeout(resolve, 5));
              controller.enqueue(new TextEncoder().encode(part));
            },
          });
          return new Response(body, { headers: { "content-type": "application/json" } });
        });
        try {
          const client = new BagpipeClient(`http://127.0.0.1:${chunked.addr.port}`);
          assert.equal(await client.ping(), "12345678901234567890123");
        } finally {
          await chunked.shutdown();
        }
      });

      await t.step("a closed port is unreachable with the OS reason", async () => {
        const client = new BagpipeClient(`http://127.0.0.1:${_closedPort()}`);
        const error = await _failure(() => client.ping());
        assert.equal(error.failure, "unreachable", error.message);
        assert.ok(error.detail.includes("Connection refused"), error.detail);
      });
    } finally {
      await server.shutdown();
    }
  },
});
