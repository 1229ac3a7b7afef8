import { FABRIC_AS } from "./bagpipe_config.ts";
import { renderTemplateFile } from "./template.ts";

/**
 * Fills config/gobgpd.toml for a reflector at routerId accepting nodes from nodePrefix, plus
 * config/gobgpd-peer-reflector.toml once per other datacenter's reflector (iBGP, non-client).
 */
export async function renderGobgpConfig(
  configDir: string,
  routerId: string,
  nodePrefix: string,
  peerReflectors: readonly string[] = [],
): Promise<string> {
  const base = await renderTemplateFile(configDir, "gobgpd.toml", {
    AS: FABRIC_AS,
    ROUTER_ID: routerId,
    NODE_PREFIX: nodePrefix,
  });
  const peers = [];
  for (const peer of peerReflectors) {
    peers.push(
      await renderTemplateFile(configDir, "gobgpd-peer-reflector.toml", {
        AS: FABRIC_AS,
        ROUTER_ID: routerId,
        PEER_REFLECTOR: peer,
      }),
    );
  }
  return [base, ...peers].join("\n");
}
