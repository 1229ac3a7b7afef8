/**
 * The Kubernetes manifests of config/k8s/, checked for what the API server and kubelet require
 * (no cluster here), and their shell start scripts run for real with stand-ins for kubectl and
 * the daemons: the install script installs a working plugin and a conflist for the node's
 * podCIDR; the daemons' configs render from the ConfigMap as the repository templates do, and
 * gobgpd accepts its config (--dry-run).
 */
import assert from "node:assert/strict";
// A YAML parser for tests only, pinned inline so the plugin's import map stays as small as it is.
// deno-lint-ignore no-import-prefix
import { parseAllDocuments } from "npm:yaml@2.9.1";
import { DEFAULT_CONFLIST, prepareConflist } from "../lib/cli/install/conflist.ts";
import { parseNetConf } from "../lib/cni/config.ts";
import { fillTemplate } from "../lib/fabric/template.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const K8S = `${ROOT}config/k8s`;

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

/** Every document of every manifest, with the file it came from. */
async function manifests(): Promise<{ file: string; doc: Obj }[]> {
  const out = [];
  for (const entry of [...Deno.readDirSync(K8S)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.name.endsWith(".yaml")) continue;
    const text = await Deno.readTextFile(`${K8S}/${entry.name}`);
    for (const doc of parseAllDocuments(text)) {
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      assert.deepEqual(problems, [], `${entry.name}: YAML problems`);
      out.push({ file: entry.name, doc: doc.toJS() as Obj });
    }
  }
  return out;
}

const all = await manifests();
const byKind = (kind: string) => all.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const one = (kind: string, name: string): Obj => {
  const found = byKind(kind).find((d) => d.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in config/k8s`);
  return found;
};
const configMap = one("ConfigMap", "bagpipe-cni-config");
const daemonSet = one("DaemonSet", "bagpipe-cni-node");
const reflector = one("Deployment", "bagpipe-route-reflector");
const workloads = [daemonSet, reflector];

const API_VERSIONS: Record<string, string> = {
  ServiceAccount: "v1",
  ConfigMap: "v1",
  ClusterRole: "rbac.authorization.k8s.io/v1",
  ClusterRoleBinding: "rbac.authorization.k8s.io/v1",
  DaemonSet: "apps/v1",
  Deployment: "apps/v1",
};
const CLUSTER_SCOPED = new Set(["ClusterRole", "ClusterRoleBinding"]);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const VOLUME_SOURCES = ["hostPath", "configMap", "emptyDir", "secret", "projected"];
const HOST_PATH_TYPES = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket"];
const FIELD_PATHS = [
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.podIP",
];

function podContainers(pod: Obj): Obj[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

function script(container: Obj): string {
  const [shell, flag, text] = container.command;
  assert.deepEqual([shell, flag], ["/bin/sh", "-c"], `${container.name}: runs a sh -c script`);
  return text;
}

Deno.test("every manifest has apiVersion, kind, metadata.name and a namespace when namespaced", () => {
  assert.deepEqual(
    all.map((m) => `${m.doc.kind}/${m.doc.metadata?.name}`).sort(),
    [
      "ClusterRole/bagpipe-cni",
      "ClusterRoleBinding/bagpipe-cni",
      "ConfigMap/bagpipe-cni-config",
      "DaemonSet/bagpipe-cni-node",
      "Deployment/bagpipe-route-reflector",
      "ServiceAccount/bagpipe-cni",
    ],
  );
  for (const { file, doc } of all) {
    const what = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    assert.equal(doc.apiVersion, API_VERSIONS[doc.kind], `${what}: apiVersion`);
    assert.match(doc.metadata.name, DNS_SUBDOMAIN, `${what}: metadata.name`);
    if (CLUSTER_SCOPED.has(doc.kind)) assert.equal(doc.metadata.namespace, undefined, what);
    else assert.equal(doc.metadata.namespace, "kube-system", `${what}: namespace`);
  }
});

Deno.test("workloads: selectors match template labels, containers are named with images, mounts name volumes", async (t) => {
  for (const w of workloads) {
    await t.step(`${w.kind}/${w.metadata.name}`, () => {
      const labels = w.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) {
        assert.equal(labels[k], v, `selector ${k}=${v} must match the template's labels`);
      }
      const pod = w.spec.template.spec;
      assert.ok(pod.containers.length > 0);
      const names = podContainers(pod).map((c) => c.name);
      assert.equal(new Set(names).size, names.length, `container names unique: ${names}`);
      const volumes = new Map<string, Obj>(pod.volumes.map((v: Obj) => [v.name, v]));
      assert.equal(volumes.size, pod.volumes.length, "volume names unique");
      for (const v of pod.volumes) {
        assert.match(v.name, DNS_LABEL);
        const sources = Object.keys(v).filter((k) => k !== "name");
        assert.equal(sources.length, 1, `volume ${v.name} has exactly one source: ${sources}`);
        assert.ok(VOLUME_SOURCES.includes(sources[0]!), `volume ${v.name}: ${sources[0]}`);
        if (v.hostPath) {
          assert.match(v.hostPath.path, /^\//, `volume ${v.name}: absolute hostPath`);
          assert.ok(HOST_PATH_TYPES.includes(v.hostPath.type ?? ""), `volume ${v.name} type`);
        }
        if (v.configMap) one("ConfigMap", v.configMap.name);
      }
      for (const c of podContainers(pod)) {
        assert.match(c.name, DNS_LABEL, "container name");
        assert.match(c.image, /^[a-z0-9.-]+(:\d+)?\/[a-z0-9./_-]+:[\w.-]+$/, `${c.name}: image`);
        const paths = new Set<string>();
        for (const m of c.volumeMounts ?? []) {
          assert.ok(volumes.has(m.name), `${c.name} mounts undeclared volume ${m.name}`);
          assert.match(m.mountPath, /^\//, `${c.name}: ${m.mountPath} absolute`);
          assert.ok(!paths.has(m.mountPath), `${c.name}: ${m.mountPath} mounted twice`);
          paths.add(m.mountPath);
        }
        for (const e of c.env ?? []) {
          assert.match(e.name, /^[A-Za-z_][A-Za-z0-9_]*$/);
          assert.ok(
            (e.value === undefined) !== (e.valueFrom === undefined),
            `${e.name}: one source`,
          );
          if (e.valueFrom?.fieldRef) {
            assert.ok(FIELD_PATHS.includes(e.valueFrom.fieldRef.fieldPath), e.name);
          }
          if (e.valueFrom?.configMapKeyRef) {
            const ref = e.valueFrom.configMapKeyRef;
            assert.ok(ref.key in one("ConfigMap", ref.name).data, `${e.name}: ${ref.key} exists`);
          }
        }
        const portNames = new Set((c.ports ?? []).map((p: Obj) => p.name));
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          if (!probe) continue;
          if (probe.httpGet) {
            assert.match(probe.httpGet.path, /^\//, `${c.name}: probe path`);
            const port = probe.httpGet.port;
            assert.ok(
              Number.isInteger(port) || portNames.has(port),
              `${c.name}: probe port ${port} is a number or a declared port name`,
            );
          } else {
            assert.ok(probe.exec.command.length > 0, `${c.name}: probe command`);
          }
        }
      }
      // The node's network is what these pods provide or need before it exists.
      assert.equal(pod.hostNetwork, true, "hostNetwork");
      assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
    });
  }
});

Deno.test("every start script is valid sh", async () => {
  for (const w of workloads) {
    for (const c of podContainers(w.spec.template.spec)) {
      const out = await new Deno.Command("sh", { args: ["-n", "-c", script(c)], stderr: "piped" })
        .output();
      assert.equal(out.code, 0, `${c.name}: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
});

Deno.test("the DaemonSet runs everywhere but on the reflector's node, which the Deployment takes", () => {
  const ds = daemonSet.spec.template.spec;
  assert.deepEqual(
    ds.tolerations,
    [{ operator: "Exists" }],
    "tolerates not-ready and tainted nodes",
  );
  const terms = ds.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    .nodeSelectorTerms;
  assert.deepEqual(terms, [{
    matchExpressions: [{ key: "bagpipe-cni.dev/route-reflector", operator: "DoesNotExist" }],
  }]);
  const rr = reflector.spec.template.spec;
  assert.equal(rr.nodeSelector["bagpipe-cni.dev/route-reflector"], "true");
  assert.ok(rr.tolerations.some((t: Obj) => t.key === "bagpipe-cni.dev/route-reflector"));
  assert.equal(reflector.spec.replicas, 1);
  assert.equal(reflector.spec.strategy.type, "Recreate", "port 179 cannot be shared");
});

Deno.test("bagpipe-bgp runs privileged in the host network with the ConfigMap and /lib/modules", () => {
  const pod = daemonSet.spec.template.spec;
  const bgp = pod.containers.find((c: Obj) => c.name === "bagpipe-bgp");
  assert.equal(bgp.securityContext.privileged, true);
  const mounts = Object.fromEntries(bgp.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
  const volume = (name: string) => pod.volumes.find((v: Obj) => v.name === name);
  assert.equal(volume(mounts["/etc/bagpipe-cni"]).configMap.name, "bagpipe-cni-config");
  assert.equal(volume(mounts["/lib/modules"]).hostPath.path, "/lib/modules");
  const resync = pod.containers.find((c: Obj) => c.name === "resync");
  assert.match(
    script(resync),
    /bagpipe-cni\.js resync\s+\\\s+--state-dir \/var\/lib\/cni\/bagpipe/,
  );
  const resyncMounts = resync.volumeMounts.map((
    m: Obj,
  ) => [m.mountPath, volume(m.name).hostPath?.path]);
  assert.deepEqual(resyncMounts, [["/var/lib/cni", "/var/lib/cni"], ["/var/log", "/var/log"]]);
});

Deno.test("the node agent serves on the node's address, on the port its scrape annotations name", () => {
  const template = daemonSet.spec.template;
  const agent = template.spec.containers.find((c: Obj) => c.name === "agent");
  assert.ok(agent, "the DaemonSet runs the agent");
  const annotations = template.metadata.annotations;
  assert.equal(annotations["prometheus.io/scrape"], "true");
  assert.equal(annotations["prometheus.io/path"], "/metrics");
  const port = Number(annotations["prometheus.io/port"]);
  const declared = agent.ports.find((p: Obj) => p.name === "metrics");
  assert.equal(declared.containerPort, port);
  const text = script(agent);
  assert.match(text, /bagpipe-cni\.js serve\s/);
  assert.ok(text.includes(`--listen "$NODE_IP:${port}"`), text);
  assert.ok(agent.env.some((e: Obj) => e.name === "NODE_IP"));
  assert.equal(agent.readinessProbe.httpGet.path, "/readyz");
  assert.equal(agent.livenessProbe.httpGet.path, "/metrics");
  // Read-only: what it mounts it cannot write.
  for (const m of agent.volumeMounts) assert.equal(m.readOnly, true, `${m.mountPath} read-only`);
});

Deno.test("the service account may read nodes, which install-cni does for spec.podCIDR", () => {
  for (const w of workloads) assert.equal(w.spec.template.spec.serviceAccountName, "bagpipe-cni");
  one("ServiceAccount", "bagpipe-cni");
  const binding = one("ClusterRoleBinding", "bagpipe-cni");
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "bagpipe-cni",
    namespace: "kube-system",
  }]);
  assert.equal(binding.roleRef.kind, "ClusterRole");
  const role = one("ClusterRole", binding.roleRef.name);
  assert.ok(
    role.rules.some((r: Obj) =>
      r.apiGroups.includes("") && r.resources.includes("nodes") && r.verbs.includes("get")
    ),
  );
});

Deno.test("install-cni runs bagpipe-cni install into hostPath dirs mounted at their host paths", () => {
  const init = (w: Obj) => w.spec.template.spec.initContainers[0];
  assert.deepEqual(init(reflector), init(daemonSet), "the reflector installs exactly as nodes do");
  const pod = daemonSet.spec.template.spec;
  const container = init(daemonSet);
  const text = script(container);
  assert.match(text, /deno run -A \/opt\/bagpipe-cni\/bagpipe-cni\.js install /);
  const flag = (name: string) => {
    const m = new RegExp(`--${name} (\\S+)`).exec(text);
    assert.ok(m, `install is called with --${name}`);
    return m[1]!;
  };
  const mountOf = (path: string) => container.volumeMounts.find((m: Obj) => m.mountPath === path);
  // The launcher written into the bin dir names these paths: they must be the host's paths.
  for (const name of ["cni-bin-dir", "cni-conf-dir", "cache-dir"]) {
    const dir = flag(name);
    const mount = mountOf(dir);
    assert.ok(mount, `--${name} ${dir} is a mount`);
    assert.notEqual(mount.readOnly, true, `--${name} ${dir} is writable`);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    assert.equal(volume.hostPath?.path, dir, `--${name} ${dir} is the same host path`);
  }
  assert.equal(flag("cni-bin-dir"), "/opt/cni/bin");
  assert.equal(flag("cni-conf-dir"), "/etc/cni/net.d");
  const conflist = flag("conflist");
  const configMount = mountOf(conflist.slice(0, conflist.lastIndexOf("/")));
  const configVolume = pod.volumes.find((v: Obj) => v.name === configMount.name);
  assert.equal(configVolume.configMap.name, "bagpipe-cni-config");
  assert.ok(conflist.slice(conflist.lastIndexOf("/") + 1) in configMap.data);
  assert.match(text, /--pod-cidr "\$pod_cidr"/);
});

Deno.test("the ConfigMap's conflist is config/10-bagpipe.conflist and passes bagpipe's validation", () => {
  const text = configMap.data["10-bagpipe.conflist"];
  assert.deepEqual(
    JSON.parse(text),
    JSON.parse(Deno.readTextFileSync(`${ROOT}config/10-bagpipe.conflist`)),
  );
  assert.deepEqual(JSON.parse(text), DEFAULT_CONFLIST);
  const list = prepareConflist(text, "ConfigMap bagpipe-cni-config", "10.27.5.0/24");
  const entry = list.plugins.find((p) => p.type === "bagpipe")!;
  const conf = parseNetConf(
    JSON.stringify({ ...entry, name: list.name, cniVersion: list.cniVersion }),
  );
  assert.equal(conf.vni, 90);
  assert.deepEqual(conf.importrt, ["64512:90"]);
  assert.equal((conf.ipam as Obj).rangeStart, "10.27.5.2");
  assert.equal((conf.ipam as Obj).gateway, "10.27.5.1");
});

/** A temp dir with stand-in programs on PATH and the ConfigMap's files, for running a script. */
async function sandbox(stubs: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "bcni-deploy-" });
  await Deno.mkdir(`${dir}/bin`);
  await Deno.mkdir(`${dir}/etc`);
  for (const [name, body] of Object.entries(stubs)) {
    await Deno.writeTextFile(`${dir}/bin/${name}`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  for (const [key, value] of Object.entries(configMap.data)) {
    await Deno.writeTextFile(`${dir}/etc/${key}`, String(value));
  }
  const run = async (text: string, env: Record<string, string>) => {
    const out = await new Deno.Command("sh", {
      args: ["-c", text],
      env: { PATH: `${dir}/bin:/usr/bin:/bin`, ...env },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  return { dir, run };
}

Deno.test("install-cni's script installs a working plugin and the node's conflist", async (t) => {
  const box = await sandbox({
    // kubectl get node NAME -o jsonpath={.spec.podCIDR}
    kubectl: `[ "$1 $2 $3" = "get node n7" ] || exit 9; printf '%s' "$FAKE_POD_CIDR"`,
    deno: `exec ${Deno.execPath()} "$@"`,
  });
  try {
    const text = script(daemonSet.spec.template.spec.initContainers[0])
      .replaceAll("/opt/bagpipe-cni/bagpipe-cni.js", `${ROOT}dist/bagpipe-cni.js`)
      .replaceAll("/opt/cni/bin", `${box.dir}/host/opt/cni/bin`)
      .replaceAll("/etc/cni/net.d", `${box.dir}/host/etc/cni/net.d`)
      .replaceAll("/var/cache/bagpipe-cni", `${box.dir}/host/var/cache/bagpipe-cni`)
      .replaceAll("/etc/bagpipe-cni/", `${box.dir}/etc/`);
    await t.step("a node without podCIDR: exit 1 saying how to get one", async () => {
      const out = await box.run(text, { NODE_NAME: "n7", FAKE_POD_CIDR: "" });
      assert.equal(out.code, 1);
      assert.match(
        out.stderr,
        /node n7 has no spec\.podCIDR; run kube-controller-manager with --allocate-node-cidrs/,
      );
    });
    await t.step("podCIDR 10.27.7.0/24: plugin and conflist installed", async () => {
      const out = await box.run(text, { NODE_NAME: "n7", FAKE_POD_CIDR: "10.27.7.0/24" });
      assert.equal(out.code, 0, out.stderr);
      const installed = JSON.parse(
        await Deno.readTextFile(`${box.dir}/host/etc/cni/net.d/10-bagpipe.conflist`),
      );
      assert.equal(installed.plugins[0].ipam.rangeStart, "10.27.7.2");
      assert.equal(installed.plugins[0].ipam.rangeEnd, "10.27.7.254");
      const version = await new Deno.Command(`${box.dir}/host/opt/cni/bin/bagpipe`, {
        env: { CNI_COMMAND: "VERSION" },
        clearEnv: true,
        stdout: "piped",
      }).output();
      assert.equal(version.code, 0);
      assert.match(new TextDecoder().decode(version.stdout), /"supportedVersions"/);
    });
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

/** Config text without comments, blank lines and trailing spaces, for comparing content. */
function content(text: string): string {
  return text.split("\n").map((l) => l.trimEnd()).filter((l) =>
    l.trim() && !l.trim().startsWith("#")
  )
    .join("\n");
}

Deno.test("bagpipe-bgp's start script renders config/bgp.conf for the node (minus [privsep])", async () => {
  const box = await sandbox({
    "bagpipe-bgp": `[ "$1" = --config-file ] || exit 9; cat "$2"`,
  });
  try {
    const text = script(daemonSet.spec.template.spec.containers[0])
      .replaceAll("/run/bagpipe-bgp", `${box.dir}/run`)
      .replaceAll("/etc/bagpipe-cni/", `${box.dir}/etc/`);
    const out = await box.run(text, { NODE_IP: "192.0.2.21", REFLECTOR_ADDRESS: "192.0.2.30" });
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /\$\{/, "every placeholder filled");
    const template = await Deno.readTextFile(`${ROOT}config/bgp.conf`);
    const expected = fillTemplate(template.slice(0, template.indexOf("[privsep]")), {
      LOCAL_ADDRESS: "192.0.2.21",
      PEERS: "192.0.2.30",
      AS: 64512,
      API_HOST: "127.0.0.1",
      API_PORT: 8082,
      ROOT_HELPER: "",
      VXLAN_DST_PORT: 4789,
    });
    assert.equal(content(out.stdout), content(expected));
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("gobgpd's start script renders config/gobgpd.toml, and gobgpd accepts it", async () => {
  const box = await sandbox({ gobgpd: `[ "$1" = -f ] || exit 9; cat "$2"` });
  try {
    const text = script(reflector.spec.template.spec.containers[0])
      .replaceAll("/run/gobgpd", `${box.dir}/run`)
      .replaceAll("/etc/bagpipe-cni/", `${box.dir}/etc/`);
    const out = await box.run(text, { NODE_IP: "192.0.2.30", NODE_PREFIX: "192.0.2.0/24" });
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /\$\{/, "every placeholder filled");
    const expected = fillTemplate(await Deno.readTextFile(`${ROOT}config/gobgpd.toml`), {
      AS: 64512,
      ROUTER_ID: "192.0.2.30",
      NODE_PREFIX: "192.0.2.0/24",
    });
    assert.equal(content(out.stdout), content(expected));
    const dry = await new Deno.Command("gobgpd", {
      args: ["--dry-run", "-f", `${box.dir}/run/gobgpd.toml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(dry.code, 0, new TextDecoder().decode(dry.stderr));
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});
