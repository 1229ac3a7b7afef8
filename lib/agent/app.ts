/**
 * The node agent's HTTP routes (Hono). Read-only: GET and HEAD only, every other method is 405;
 * no route changes anything on the node. A failure while answering is a 500 naming what failed,
 * and the agent goes on serving.
 */
import { type Context, Hono } from "hono";
import { type Health, nodeHealth, nodeReadiness } from "./health.ts";
import { renderMetrics } from "./metrics.ts";
import type { NodeAgent, NodeSnapshot } from "./node_agent.ts";
import { nodeJson } from "./node_json.ts";
import { renderNodePage } from "./page.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus_text.ts";

/** Builds the app over an agent. */
export function agentApp(agent: NodeAgent, title: string): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      c.header("Allow", "GET, HEAD");
      return c.text(`${c.req.method} not allowed: the agent is read-only\n`, 405);
    }
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Cache-Control", "no-store");
    return undefined;
  });
  app.get("/metrics", async (c) => {
    const snap = await agent.snapshot();
    return c.body(renderMetrics(snap, agent.logStats), 200, {
      "Content-Type": PROMETHEUS_CONTENT_TYPE,
    });
  });
  const probe = (rule: (snap: NodeSnapshot) => Health) => async (c: Context) => {
    const health = rule(await agent.snapshot());
    return c.text(
      `${health.healthy ? "ok" : "unhealthy"}: ${health.reason}\n`,
      health.healthy ? 200 : 503,
    );
  };
  app.get("/healthz", probe(nodeHealth));
  app.get("/readyz", probe(nodeReadiness));
  app.get("/api/node", async (c) => {
    const snap = await agent.snapshot();
    return c.json(nodeJson(snap, agent.logStats, nodeHealth(snap)));
  });
  app.get("/", (c) => {
    const page = renderNodePage(title);
    // frame-ancestors works only as a header (a <meta> policy ignores it, with a console warning).
    c.header("Content-Security-Policy", `${page.csp}; frame-ancestors 'none'`);
    return c.html(page.body);
  });
  app.notFound((c) =>
    c.text(`no such page: ${c.req.path} (try /, /metrics, /healthz, /readyz, /api/node)\n`, 404)
  );
  app.onError((err, c) =>
    c.text(`the agent failed to answer ${c.req.path}: ${err.message}\n`, 500)
  );
  return app;
}
