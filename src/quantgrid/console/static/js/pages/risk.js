// Risk: the trading state and why, HALT and RESUME for admins (confirmed first), value
// at risk, and the exposure against the limits.

import { api } from "../api.js";
import { fill, h, notice, panel, statePill, table } from "../dom.js";
import * as fmt from "../format.js";
import { errorNotice, instrumentLink } from "./common.js";

const LIMIT_LABELS = {
  max_order_quantity: ["Largest order", "units", "qty"],
  max_order_notional: ["Largest order value", "", "money"],
  max_position: ["Largest position", "units", "qty"],
  max_concentration: ["Largest share of equity in one instrument", "", "fraction"],
  price_band_pct: ["Price band around the last price", "", "fraction"],
  max_gross_exposure: ["Gross exposure", "", "money"],
  max_net_exposure: ["Net exposure", "", "money"],
  max_orders: ["Orders per window", "", "count"],
  order_window_ns: ["Order window", "", "ns"],
  reduce_at_drawdown: ["Reduce-only from drawdown", "", "fraction"],
  halt_at_drawdown: ["Halt at drawdown", "", "fraction"],
};

function limitValue(kind, value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "none");
  switch (kind) {
    case "money":
      return fmt.money(value);
    case "fraction":
      return fmt.pct(value);
    case "ns":
      return fmt.duration(value / 1e9);
    case "count":
      return fmt.count(value);
    default:
      return fmt.qty(value);
  }
}

function use(current, limit) {
  if (limit === null || limit === undefined || !limit) return h("span", { class: "muted" }, "no limit");
  const share = Math.abs(current) / limit;
  return h(
    "span",
    { class: "progress-cell" },
    h("meter", { min: "0", max: "1", low: "0.7", high: "0.9", optimum: "0", value: String(Math.min(share, 1)), "aria-label": `${fmt.pct(share, { digits: 0 })} of the limit` }),
    h("span", { class: share >= 1 ? "negative" : "" }, fmt.pct(share, { digits: 0 })),
  );
}

export async function render(root, ctx) {
  const stateBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const varBody = h("div", {});
  const exposureBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const limitsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const actionResult = h("div", { class: "result", role: "status", "aria-live": "polite", "data-testid": "risk-action-result" });
  const dialog = confirmDialog();

  let controls = null;
  if (ctx.isAdmin()) {
    const halt = h("button", { type: "button", class: "button button-danger", id: "halt-trading" }, "Halt trading");
    const resume = h("button", { type: "button", class: "button", id: "resume-trading" }, "Resume trading");
    halt.addEventListener("click", () => act("halt", dialog, actionResult, ctx, refresh));
    resume.addEventListener("click", () => act("resume", dialog, actionResult, ctx, refresh));
    controls = h("div", { class: "actions" }, halt, resume);
  } else {
    controls = notice("info", "Halting and resuming needs the admin role", "Ask an admin to halt or resume trading.");
  }

  const method = h(
    "select",
    { id: "var-method" },
    ["historical", "parametric", "cornish_fisher", "monte_carlo"].map((m) => h("option", { value: m }, m.replace("_", "-"))),
  );
  const confidence = h("select", { id: "var-confidence" }, h("option", { value: "0.99" }, "99%"), h("option", { value: "0.95" }, "95%"));
  const varButton = h("button", { type: "submit", class: "button button-quiet" }, "Compute");
  const varForm = h(
    "form",
    { class: "field-row", "aria-label": "Value at risk settings" },
    h("div", { class: "field" }, h("label", { for: "var-method" }, "Method"), method),
    h("div", { class: "field" }, h("label", { for: "var-confidence" }, "Confidence"), confidence),
    h("div", { class: "field actions" }, varButton),
  );
  varForm.addEventListener("submit", (event) => {
    event.preventDefault();
    loadVar();
  });

  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Risk")),
    h(
      "div",
      { class: "grid" },
      h("div", { class: "span-5" }, panel("Trading state", { id: "state", testid: "state-panel" }, stateBody, controls, actionResult)),
      h("div", { class: "span-7" }, panel("Value at risk (1 day, of the account's equity)", { id: "var" }, varForm, varBody)),
      h("div", { class: "span-7" }, panel("Exposure against limits", { id: "exposure" }, exposureBody)),
      h("div", { class: "span-5" }, panel("Limits", { id: "limits" }, limitsBody)),
    ),
    dialog.element,
  );

  let limits = null;

  async function loadState() {
    try {
      const s = await api("/api/risk/risk/state", { signal: ctx.signal });
      fill(
        stateBody,
        h("div", { class: "big-state" }, statePill(s.state, "risk-trading-state"), h("span", { "data-testid": "risk-trading-reason" }, s.reason || "no reason given")),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Equity"),
          h("dd", {}, fmt.money(s.equity)),
          h("dt", {}, "Equity peak"),
          h("dd", {}, fmt.money(s.equity_peak)),
          h("dt", {}, "Drawdown"),
          h("dd", {}, fmt.percentOf(s.drawdown_pct)),
          h("dt", {}, "Orders denied"),
          h("dd", {}, fmt.count(s.denied_orders)),
          h("dt", {}, "Node time"),
          h("dd", {}, fmt.utc(s.ts)),
        ),
      );
      return s;
    } catch (error) {
      fill(stateBody, errorNotice(error, "Could not load the trading state"));
      return null;
    }
  }

  async function loadVar() {
    varButton.disabled = true;
    try {
      const v = await api("/api/risk/risk/var", { method: "POST", body: { method: method.value, confidence: Number(confidence.value) }, signal: ctx.signal });
      fill(
        varBody,
        h(
          "div",
          { class: "kpis kpis-2" },
          h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, `VaR ${fmt.pct(v.confidence, { digits: 0 })}`), h("span", { class: "kpi-value", "data-testid": "var-amount" }, fmt.money(v.var_amount)), h("span", { class: "kpi-sub" }, `${fmt.pct(v.var, { digits: 3 })} of equity`)),
          h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, "Expected shortfall"), h("span", { class: "kpi-value" }, fmt.money(v.cvar_amount)), h("span", { class: "kpi-sub" }, `${fmt.pct(v.cvar, { digits: 3 })} of equity`)),
        ),
        h("p", { class: "muted" }, `${v.method.replace("_", "-")} over ${fmt.count(v.observations)} equity returns (${v.source.replace("_", " ")}); equity ${fmt.money(v.equity)}.`),
      );
    } catch (error) {
      fill(
        varBody,
        error.status === 422 || error.status === 409
          ? notice("empty", "Not enough history for VaR yet", error.detail, " The node samples equity as prices move: try again in a minute.")
          : errorNotice(error, "Could not compute VaR"),
      );
    } finally {
      varButton.disabled = false;
    }
  }

  async function loadLimits() {
    try {
      limits = await api("/api/risk/risk/limits", { signal: ctx.signal });
      const rows = Object.entries(LIMIT_LABELS).map(([key, [label, , kind]]) => ({ label, value: limitValue(kind, limits[key]) }));
      rows.push({ label: "Regimes that block new entries", value: limits.blocked_regimes?.length ? limits.blocked_regimes.join(", ") : h("span", { class: "muted" }, "none") });
      const perInstrument = Object.keys(limits.per_instrument || {});
      if (perInstrument.length) rows.push({ label: "Instruments with their own limits", value: perInstrument.join(", ") });
      fill(
        limitsBody,
        table([{ label: "Limit", cell: (r) => r.label, class: "wrap" }, { label: "Value", numeric: true, cell: (r) => r.value }], rows, { testid: "limits-table" }),
        h("p", { class: "hint" }, "Admins change limits through PUT /api/risk/risk/limits."),
      );
    } catch (error) {
      fill(limitsBody, errorNotice(error, "Could not load the limits"));
    }
  }

  async function loadExposure(state) {
    try {
      const positions = await api("/api/portfolio/portfolio/positions", { signal: ctx.signal });
      const equity = state ? state.equity : null;
      const gross = positions.reduce((a, p) => a + Math.abs(p.market_value), 0);
      const net = positions.reduce((a, p) => a + p.market_value, 0);
      const largest = positions.reduce((a, p) => (Math.abs(p.quantity) > Math.abs(a?.quantity ?? 0) ? p : a), null);
      const concentrated = positions.reduce((a, p) => (Math.abs(p.market_value) > Math.abs(a?.market_value ?? 0) ? p : a), null);
      const l = limits || {};
      const rows = [
        { label: "Gross exposure", current: fmt.money(gross), limit: limitValue("money", l.max_gross_exposure), use: use(gross, l.max_gross_exposure) },
        { label: "Net exposure", current: fmt.signed(net), limit: limitValue("money", l.max_net_exposure), use: use(net, l.max_net_exposure) },
        {
          label: largest ? h("span", {}, "Largest position (", instrumentLink(largest.instrument_id), ")") : "Largest position",
          current: largest ? fmt.qty(largest.quantity, { sign: true }) : fmt.qty(0),
          limit: limitValue("qty", l.max_position),
          use: use(largest ? largest.quantity : 0, l.max_position),
        },
        {
          label: "Largest share of equity",
          current: equity && concentrated ? fmt.pct(Math.abs(concentrated.market_value) / equity) : fmt.pct(0),
          limit: limitValue("fraction", l.max_concentration),
          use: use(equity && concentrated ? Math.abs(concentrated.market_value) / equity : 0, l.max_concentration),
        },
        {
          label: "Drawdown from the peak",
          current: state ? fmt.percentOf(state.drawdown_pct) : "\u2013",
          limit: limitValue("fraction", l.halt_at_drawdown),
          use: use(state ? state.drawdown_pct / 100 : 0, l.halt_at_drawdown),
        },
      ];
      fill(
        exposureBody,
        table(
          [
            { label: "Measure", cell: (r) => r.label },
            { label: "Now", numeric: true, cell: (r) => r.current },
            { label: "Limit", numeric: true, cell: (r) => r.limit },
            { label: "Use of the limit", cell: (r) => r.use },
          ],
          rows,
          { testid: "exposure-table" },
        ),
        positions.length ? null : h("p", { class: "muted" }, "No open positions: exposure is zero."),
      );
    } catch (error) {
      fill(exposureBody, errorNotice(error, "Could not load the exposure"));
    }
  }

  async function refresh() {
    const state = await loadState();
    await loadExposure(state);
  }

  await loadLimits();
  await refresh();
  loadVar();
  let lastState = null;
  let lastRefresh = Date.now();
  ctx.onSnapshot((s) => {
    const key = `${s.trading_state}|${s.trading_reason}|${s.positions}|${s.fills}`;
    if (key !== lastState || Date.now() - lastRefresh > 5000) {
      lastState = key;
      lastRefresh = Date.now();
      refresh();
    }
  });
}

/** A modal asking to confirm, with a reason: resolves the reason, or null if cancelled. */
function confirmDialog() {
  const title = h("h2", { id: "confirm-title" });
  const text = h("p", {});
  const reason = h("input", { type: "text", id: "confirm-reason", maxlength: "200" });
  const ok = h("button", { type: "submit", class: "button button-danger", value: "ok", id: "confirm-ok" });
  const cancel = h("button", { type: "button", class: "button button-quiet", id: "confirm-cancel" }, "Cancel");
  const element = h(
    "dialog",
    { "aria-labelledby": "confirm-title", "data-testid": "confirm-dialog" },
    h("form", { method: "dialog" }, title, text, h("div", { class: "field" }, h("label", { for: "confirm-reason" }, "Reason (kept with the state change)"), reason), h("div", { class: "actions" }, cancel, ok)),
  );
  cancel.addEventListener("click", () => element.close("cancel"));
  return {
    element,
    ask({ heading, body, confirm, defaultReason, danger }) {
      fill(title, heading);
      fill(text, body);
      fill(ok, confirm);
      ok.className = `button ${danger ? "button-danger" : ""}`;
      reason.value = defaultReason;
      element.returnValue = "";
      element.showModal();
      reason.select();
      return new Promise((resolve) => {
        element.addEventListener("close", () => resolve(element.returnValue === "ok" ? reason.value.trim() || defaultReason : null), { once: true });
      });
    },
  };
}

async function act(action, dialog, result, ctx, refresh) {
  const halting = action === "halt";
  const reason = await dialog.ask(
    halting
      ? {
          heading: "Halt trading?",
          body: "Every new order is refused until an admin resumes trading; cancels still pass and working orders keep working.",
          confirm: "Halt trading",
          defaultReason: "halted from the console",
          danger: true,
        }
      : {
          heading: "Resume trading?",
          body: "Orders are accepted again, and the drawdown breaker measures from the current equity.",
          confirm: "Resume trading",
          defaultReason: "resumed from the console",
          danger: false,
        },
  );
  if (reason === null) {
    result.className = "result";
    fill(result, "Nothing changed.");
    return;
  }
  try {
    const state = await api(`/api/risk/risk/${action}`, { method: "POST", body: { reason }, signal: ctx.signal });
    result.className = "result result-ok";
    fill(result, `Trading is ${state.state}: ${state.reason}`);
  } catch (error) {
    result.className = "result result-error";
    fill(result, `${halting ? "Halt" : "Resume"} refused: ${error.detail}. ${error.hint}`);
  }
  refresh();
}
