import { versionInfo } from "../cni/version.ts";
import { TOOL_VERSION } from "./tool_version.ts";

const HELP =
  `bagpipe-cni ${TOOL_VERSION}: a CNI plugin that attaches pods to a BGP EVPN/VXLAN fabric
through the node's BaGPipe BGP daemon.

As a CNI plugin (the runtime sets CNI_COMMAND): ADD, DEL, CHECK, STATUS, GC, VERSION.

Commands:
  install --cni-bin-dir DIR [--cache-dir DIR] [--cni-conf-dir DIR [--conflist FILE]
          [--pod-cidr CIDR] [--force]]
                       install this bundle as DIR/bagpipe with its deno runtime, and the
                       conflist, each atomically (install --help for details)
  resync [--state-dir DIR] [--bagpipe-url URL]
                       re-attach every recorded pod if the daemon restarted
  verify FILE [--json] [--vxlan-port N]...
                       check a capture's VXLAN traffic against its BGP EVPN routes
  verify --node [--bagpipe-url URL] [--state-dir DIR] [--json]
                       check the node's fdb/neighbour entries and attachment records
                       against what its bagpipe-bgp received and attached
  serve [--listen ADDR:PORT] [--bagpipe-url URL] [--state-dir DIR] [--log-file FILE]
                       the node agent: Prometheus /metrics, /healthz, /readyz, a page of
                       the node at / (read-only; default 127.0.0.1:9483)
  version              print the tool and CNI versions
  help                 this text
`;

/** The operator's command line. Returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return command === undefined ? 2 : 0;
    case "version":
    case "--version": {
      const info = versionInfo();
      console.log(`bagpipe-cni ${TOOL_VERSION}, CNI spec ${info.supportedVersions.join(", ")}`);
      return 0;
    }
    case "install": {
      const { installCommand } = await import("./install/command.ts");
      return await installCommand(rest);
    }
    case "resync": {
      const { resyncCommand } = await import("./resync.ts");
      return await resyncCommand(rest);
    }
    case "serve": {
      const { serveCommand } = await import("./serve.ts");
      return await serveCommand(rest);
    }
    case "verify": {
      if (rest.includes("--node")) {
        const { verifyNodeCommand } = await import("./verify_node.ts");
        return await verifyNodeCommand(rest);
      }
      const { verifyCommand } = await import("../verify/command.ts");
      return await verifyCommand(rest);
    }
    default:
      console.error(
        `bagpipe-cni: unknown command ${JSON.stringify(command)}; see bagpipe-cni --help`,
      );
      return 2;
  }
}
