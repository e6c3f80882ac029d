// Health: the gateway's view of every service, and each service's own dependencies.

import { api } from "../api.js";
import { fill, h, notice, panel, table } from "../dom.js";
import * as fmt from "../format.js";
import { errorNotice } from "./common.js";

const REFRESH_MS = 10000;

function pill(status) {
  return h("span", { class: ["pill", `state-${status}`] }, status);
}

export async function render(root, ctx) {
  const summary = h("div", { class: "summary", "data-testid": "health-summary" });
  const servicesBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const checked = h("span", { class: "muted" });
  const again = h("button", { type: "button", class: "button button-quiet" }, "Check again");
  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Health"), checked, again),
    summary,
    h("div", { class: "grid" }, h("div", { class: "span-12" }, panel("Services", { id: "services", testid: "services-panel" }, servicesBody))),
  );
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  async function check() {
    clearTimeout(timer);
    again.disabled = true;
    try {
      const gateway = await api("/health/dependencies", { signal: ctx.signal });
      const names = Object.keys(gateway.dependencies).sort();
      const own = await Promise.all(
        names.map((name) =>
          api(`/api/${name}/health/dependencies`, { signal: ctx.signal }).then(
            (answer) => answer,
            (error) => ({ status: "down", dependencies: {}, error }),
          ),
        ),
      );
      const rows = names.map((name, i) => ({ name, seen: gateway.dependencies[name], own: own[i] }));
      const down = rows.filter((r) => r.seen.status !== "ok" || r.own.status !== "ok");
      fill(
        summary,
        down.length
          ? notice("error", `${down.length} of ${rows.length} services are not healthy: ${down.map((r) => r.name).join(", ")}`, "See each one's detail below; restart it (or `quantgrid up`) and check its log.")
          : notice("info", `All ${rows.length} services are healthy`, "The gateway reaches each service, and each reaches what it depends on."),
      );
      fill(
        servicesBody,
        table(
          [
            { label: "Service", cell: (r) => h("strong", {}, r.name) },
            { label: "Status", cell: (r) => pill(r.seen.status) },
            { label: "Latency", numeric: true, cell: (r) => `${fmt.ratio(r.seen.latency_ms, 1)} ms` },
            { label: "Detail", class: "wrap", cell: (r) => r.seen.detail || "" },
            {
              label: "Its dependencies",
              class: "wrap",
              cell: (r) => {
                const deps = Object.entries(r.own.dependencies || {});
                if (r.own.error) return h("span", { class: "negative" }, r.own.error.detail);
                if (!deps.length) return h("span", { class: "muted" }, "none");
                return h(
                  "span",
                  { class: "choices" },
                  deps.map(([dep, s]) => h("span", { title: s.detail || "" }, pill(s.status), ` ${dep} (${fmt.ratio(s.latency_ms, 1)} ms)`)),
                );
              },
            },
          ],
          rows,
          { testid: "health-table", rowKey: (r) => r.name },
        ),
      );
      fill(checked, `checked ${new Date().toISOString().slice(11, 19)} UTC, every ${REFRESH_MS / 1000} s`);
    } catch (error) {
      fill(summary, errorNotice(error, "Could not check the services"));
      fill(servicesBody, h("p", { class: "muted" }, "Unknown until the gateway answers; checked again every 10 s."));
    } finally {
      again.disabled = false;
      if (!ctx.signal.aborted) timer = setTimeout(check, REFRESH_MS);
    }
  }
  again.addEventListener("click", check);
  await check();
}
