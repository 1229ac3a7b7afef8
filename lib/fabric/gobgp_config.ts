import { FABRIC_AS } from "./bagpipe_config.ts";
import { renderTemplateFile } from "./template.ts";

/** Fills config/gobgpd.toml for a reflector at routerId accepting nodes from nodePrefix. */
export function renderGobgpConfig(
  configDir: string,
  routerId: string,
  nodePrefix: string,
): Promise<string> {
  return renderTemplateFile(configDir, "gobgpd.toml", {
    AS: FABRIC_AS,
    ROUTER_ID: routerId,
    NODE_PREFIX: nodePrefix,
  });
}
