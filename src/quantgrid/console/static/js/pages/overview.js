// Overview: equity, P&L, positions, working orders and recent fills, kept live by the
// account stream.

import { api, query } from "../api.js";
import { fill, h, kpi, nextFrame, notice, panel, statePill, table } from "../dom.js";
import * as fmt from "../format.js";
import { COLORS, baseLayout, plot, purge } from "../charts.js";
import {
  errorNotice,
  fillsTable,
  instrumentLink,
  loadRecentFills,
  loadWorkingOrders,
  ordersTable,
  signedMoney,
} from "./common.js";

const EQUITY_POINTS = 2000;
const CHART_EVERY_MS = 2000;
const POSITIONS_EVERY_MS = 3000;
const STRATEGIES_EVERY_MS = 5000;

export async function render(root, ctx) {
  const k = {
    equity: kpi("Equity", { testid: "kpi-equity" }),
    total: kpi("Total P&L", { testid: "kpi-total-pnl" }),
    realized: kpi("Realised P&L", { testid: "kpi-realized" }),
    unrealized: kpi("Unrealised P&L", { testid: "kpi-unrealized" }),
    cash: kpi("Cash", { testid: "kpi-cash" }),
    state: kpi("Trading", { testid: "kpi-trading-state" }),
  };
  const asOf = h("span", { class: "muted" });
  const equityChart = h("div", { class: "chart", role: "img", "aria-label": "Equity curve" });
  const dailyChart = h("div", { class: "chart", role: "img", "aria-label": "Daily profit and loss" });
  const equityBody = h("div", {}, equityChart);
  const dailyBody = h("div", {}, dailyChart);
  const positionsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const ordersBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const fillsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const cancelResult = h("p", { class: "result", role: "status", "aria-live": "polite" });
  const strategiesBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const replayLine = h("p", { class: "muted", "data-testid": "replay-status" });
  const strategyResult = h("p", { class: "result", role: "status", "aria-live": "polite" });

  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), asOf),
    h("div", { class: "kpis" }, Object.values(k).map((x) => x.card)),
    h(
      "div",
      { class: "grid" },
      h("div", { class: "span-8" }, panel("Equity", { id: "equity", testid: "equity-panel" }, equityBody)),
      h("div", { class: "span-4" }, panel("Daily P&L (UTC days)", { id: "daily" }, dailyBody)),
      h("div", { class: "span-6" }, panel("Positions", { id: "positions" }, positionsBody)),
      h("div", { class: "span-6" }, panel("Working orders", { id: "orders" }, cancelResult, ordersBody)),
      h("div", { class: "span-12" }, panel("Recent fills", { id: "fills", testid: "fills-panel" }, fillsBody)),
      h("div", { class: "span-12" }, panel("Strategies", { id: "strategies", testid: "strategies-panel" }, replayLine, strategyResult, strategiesBody)),
    ),
  );
  ctx.onLeave(() => {
    purge(equityChart);
    purge(dailyChart);
  });

  let equity = { x: [], y: [], capital: null };
  let last = null;
  let lastChart = 0;
  let lastPositions = 0;

  function showKpis(s) {
    fill(asOf, `as of ${fmt.utc(s.ts)}`);
    fill(k.equity.value, fmt.money(s.equity));
    fill(k.equity.sub, s.currency);
    fill(k.total.value, signedMoney(s.total));
    fill(k.total.sub, `${fmt.pct(s.capital ? s.total / s.capital : null, { sign: true })} of ${fmt.money(s.capital)} capital`);
    fill(k.realized.value, signedMoney(s.realized));
    fill(k.unrealized.value, signedMoney(s.unrealized));
    fill(k.cash.value, fmt.money(s.cash));
    fill(k.state.value, statePill(s.trading_state, "overview-trading-state"));
    fill(k.state.sub, `${fmt.plural(s.positions, "position")} \u00b7 ${fmt.count(s.working_orders)} working \u00b7 ${fmt.plural(s.fills, "fill")}`);
    k.state.sub.title = s.trading_reason || "";
  }

  async function loadEquity() {
    try {
      const answer = await api(`/api/portfolio/portfolio/equity${query({ limit: EQUITY_POINTS })}`, { signal: ctx.signal });
      equity = { x: answer.points.map((p) => p.ts), y: answer.points.map((p) => p.equity) };
      await drawEquity();
    } catch (error) {
      fill(equityBody, errorNotice(error, "Could not load the equity history"));
    }
  }

  async function drawEquity() {
    if (!equity.x.length) {
      fill(equityBody, notice("empty", "No equity samples yet", "The node samples equity at every fill and as prices move; they appear within seconds of it starting."));
      return;
    }
    if (!equityBody.contains(equityChart)) fill(equityBody, equityChart);
    await nextFrame();
    await plot(
      equityChart,
      [{ type: "scatter", mode: "lines", x: equity.x.map(fmt.plotTime), y: equity.y, line: { color: COLORS.line, width: 2 }, name: "Equity", hovertemplate: "%{y:,.2f}<extra></extra>" }],
      baseLayout(),
    );
    drawDaily();
  }

  function drawDaily() {
    // The last equity of each UTC day, less the day before's (the first day: its first).
    const days = new Map();
    equity.x.forEach((ts, i) => {
      const day = fmt.utc(ts).slice(0, 10);
      if (!days.has(day)) days.set(day, { first: equity.y[i], last: equity.y[i] });
      days.get(day).last = equity.y[i];
    });
    const labels = [...days.keys()];
    let previous = null;
    const pnl = labels.map((day) => {
      const d = days.get(day);
      const value = d.last - (previous ?? d.first);
      previous = d.last;
      return value;
    });
    if (!labels.length) {
      fill(dailyBody, notice("empty", "No daily P&L yet", "It appears with the first equity samples."));
      return;
    }
    if (!dailyBody.contains(dailyChart)) fill(dailyBody, dailyChart);
    plot(
      dailyChart,
      [
        {
          type: "bar",
          x: labels,
          y: pnl,
          marker: { color: pnl.map((v) => (v >= 0 ? COLORS.up : COLORS.down)) },
          hovertemplate: "%{x}: %{y:+,.2f}<extra></extra>",
        },
      ],
      baseLayout({ xaxis: { type: "category", gridcolor: COLORS.grid }, yaxis: { tickformat: "+,.2f", gridcolor: COLORS.grid, automargin: true }, hovermode: "closest" }),
    );
  }

  async function loadPositions() {
    lastPositions = Date.now();
    try {
      const positions = await api("/api/portfolio/portfolio/positions", { signal: ctx.signal });
      const columns = [
        { label: "Instrument", cell: (p) => instrumentLink(p.instrument_id) },
        { label: "Quantity", numeric: true, cell: (p) => fmt.qty(p.quantity, { sign: true }) },
        { label: "Avg price", numeric: true, cell: (p) => fmt.price(p.avg_px_open) },
        { label: "Last", numeric: true, cell: (p) => fmt.price(p.last_price) },
        { label: "Market value", numeric: true, cell: (p) => fmt.money(p.market_value) },
        { label: "Unrealised", numeric: true, cell: (p) => signedMoney(p.unrealized_pnl) },
        { label: "Realised", numeric: true, cell: (p) => signedMoney(p.realized_pnl) },
      ];
      fill(
        positionsBody,
        table(columns, positions, {
          testid: "positions-table",
          rowKey: (p) => p.instrument_id,
          empty: notice("empty", "No open positions", "Positions open when orders fill: strategies trade as the replay runs, or place an order on an ", h("a", { href: "#/instrument" }, "instrument page"), "."),
        }),
      );
    } catch (error) {
      fill(positionsBody, errorNotice(error, "Could not load the positions"));
    }
  }

  async function cancel(order) {
    fill(cancelResult, `Cancelling ${fmt.shortId(order.client_order_id)}\u2026`);
    try {
      const answer = await api(`/api/execution/orders/${encodeURIComponent(order.client_order_id)}`, { method: "DELETE", signal: ctx.signal });
      cancelResult.className = "result result-ok";
      fill(cancelResult, `Order ${order.client_order_id}: ${answer.status}`);
      loadOrders();
    } catch (error) {
      cancelResult.className = "result result-error";
      fill(cancelResult, `Cancel refused: ${error.detail}`);
    }
  }

  async function loadOrders() {
    try {
      const { orders, more } = await loadWorkingOrders(ctx.signal);
      fill(
        ordersBody,
        more ? notice("info", "Showing the 200 oldest working orders", "Cancel some, or list the rest through the API (/api/execution/orders).") : null,
        ordersTable(orders, { canTrade: ctx.canTrade(), onCancel: cancel }),
      );
    } catch (error) {
      fill(ordersBody, errorNotice(error, "Could not load the working orders"));
    }
  }

  async function loadFills(nowNs) {
    try {
      fill(fillsBody, fillsTable(await loadRecentFills(nowNs, { want: 20, signal: ctx.signal })));
    } catch (error) {
      fill(fillsBody, errorNotice(error, "Could not load the fills"));
    }
  }

  async function loadReplay() {
    try {
      const r = await api("/api/strategy/replay", { signal: ctx.signal });
      const where = r.market_time_ns === null ? "" : ` \u00b7 market time ${fmt.utc(r.market_time_ns)}`;
      const why = r.error ? ` \u00b7 ${r.error}` : "";
      fill(replayLine, `Replay of the market: ${r.state} at ${fmt.ratio(r.speed, 0)}\u00d7 \u00b7 ${fmt.count(r.played)} bars played since this start (the data holds ${fmt.count(r.total)})${where}${why}`);
    } catch (error) {
      fill(replayLine, error.status === 404 ? "No market replay runs here: strategies paper-trade in quantgrid up, unless it runs with --no-paper." : `Replay status unavailable: ${error.detail}`);
    }
  }

  async function switchStrategy(config, start) {
    fill(strategyResult, `${start ? "Starting" : "Stopping"} ${config.config_id}\u2026`);
    try {
      const answer = await api(`/api/strategy/strategy-configs/${encodeURIComponent(config.config_id)}/${start ? "start" : "stop"}`, { method: "POST", signal: ctx.signal });
      strategyResult.className = "result result-ok";
      fill(strategyResult, `${config.config_id}: ${answer.running ? "running" : "stopped"}${answer.changed ? "" : " (it already was)"}`);
    } catch (error) {
      strategyResult.className = "result result-error";
      fill(strategyResult, `${config.config_id}: ${error.detail}`);
    }
    loadStrategies();
  }

  let lastStrategies = 0;
  async function loadStrategies() {
    lastStrategies = Date.now();
    loadReplay();
    try {
      const answer = await api(`/api/strategy/strategy-configs${query({ limit: 100 })}`, { signal: ctx.signal });
      const columns = [
        { label: "Configuration", cell: (c) => h("code", {}, c.config_id) },
        { label: "Strategy", cell: (c) => c.strategy },
        { label: "Label", cell: (c) => c.label || "\u2013" },
        { label: "Instruments", cell: (c) => c.instruments.join(", ") },
        { label: "State", cell: (c) => h("span", { class: ["pill", c.running ? "state-active" : ""], "data-testid": `strategy-state-${c.config_id}` }, c.running === null ? "unknown" : c.running ? "running" : "stopped") },
      ];
      if (ctx.canTrade()) {
        columns.push({
          label: "",
          cell: (c) => h("button", { type: "button", class: "button button-quiet button-small", "aria-label": `${c.running ? "Stop" : "Start"} strategy ${c.config_id}`, onclick: () => switchStrategy(c, !c.running) }, c.running ? "Stop" : "Start"),
        });
      }
      fill(
        strategiesBody,
        table(columns, answer.items, {
          testid: "strategies-table",
          rowKey: (c) => c.config_id,
          empty: notice("empty", "No strategy configured", "Configure one through the API (POST /api/strategy/strategy-configs), then start it here."),
        }),
      );
    } catch (error) {
      fill(strategiesBody, errorNotice(error, "Could not load the strategies"));
    }
  }

  function onSnapshot(s) {
    showKpis(s);
    const changed = (field) => !last || last[field] !== s[field];
    if (changed("fills") || (s.last_fill && (!last || !last.last_fill || last.last_fill.trade_id !== s.last_fill.trade_id))) loadFills(s.ts);
    if (changed("working_orders") || changed("fills")) loadOrders();
    if (changed("positions") || changed("fills") || Date.now() - lastPositions > POSITIONS_EVERY_MS) loadPositions();
    if (Date.now() - lastStrategies > STRATEGIES_EVERY_MS) loadStrategies();
    if (equity.x.length && s.ts > equity.x[equity.x.length - 1]) {
      equity.x.push(s.ts);
      equity.y.push(s.equity);
      scheduleChart();
    }
    last = s;
  }

  // At most one redraw every CHART_EVERY_MS, and always one after the last point.
  let chartTimer = null;
  function scheduleChart() {
    if (chartTimer) return;
    const wait = Math.max(0, CHART_EVERY_MS - (Date.now() - lastChart));
    chartTimer = setTimeout(() => {
      chartTimer = null;
      lastChart = Date.now();
      drawEquity();
    }, wait);
  }
  ctx.onLeave(() => clearTimeout(chartTimer));

  const first = await ctx.nodeTime();
  loadStrategies();
  await loadEquity();
  ctx.onSnapshot(onSnapshot);
  if (!ctx.stream.latest) {
    // No stream yet: draw once from the trading state's clock.
    loadFills(first.ts);
    loadOrders();
    loadPositions();
  }
}
