// An instrument: candlesticks up to the node's clock with SMA 20 and 50, the fills as
// markers, the regime band under the bars, and an order ticket for traders.

import { api, query } from "../api.js";
import { fill, h, nextFrame, notice, panel } from "../dom.js";
import * as fmt from "../format.js";
import { COLORS, REGIME_COLORS, baseLayout, plot, purge } from "../charts.js";
import { errorNotice, fillsTable, loadRecentFills, signedMoney } from "./common.js";

const BARS_SHOWN = 300;
const SMA_SLOW = 50;
const REDRAW_MIN_MS = 3000;
const BAR_NS = 60 * 1e9;

function sma(values, period) {
  const out = new Array(values.length).fill(null);
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    if (i >= period) sum -= values[i - period];
    if (i >= period - 1) out[i] = sum / period;
  });
  return out;
}

function orderId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `ui-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function render(root, ctx) {
  const symbols = (await api("/api/market-data/market-data/symbols", { signal: ctx.signal })).symbols;
  if (!symbols.length) {
    fill(root, h("h1", {}, "Instruments"), notice("empty", "No instruments", "The market-data service serves no symbols: check its source (QUANTGRID_MARKET_DATA_SOURCE) on the Health page."));
    return;
  }
  const symbol = ctx.params[0] && symbols.includes(ctx.params[0]) ? ctx.params[0] : symbols[0];
  const unknown =
    ctx.params[0] && ctx.params[0] !== symbol
      ? notice("error", `No instrument called ${ctx.params[0]}`, `Showing ${symbol}: pick another above.`)
      : null;

  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Instruments" },
    symbols.map((s) => h("a", { href: `#/instrument/${encodeURIComponent(s)}`, "aria-current": s === symbol ? "page" : null }, s)),
  );
  const regimePill = h("span", { "data-testid": "regime-now" });
  const positionLine = h("p", { "data-testid": "instrument-position", class: "muted" });
  const chart = h("div", { class: "chart chart-tall", role: "img", "aria-label": `${symbol} candlesticks with moving averages, fills and regimes` });
  const chartBody = h("div", {}, chart);
  const chartNote = h("p", { class: "muted" });
  const legend = h(
    "div",
    { class: "legend" },
    h("span", {}, h("span", { class: "swatch swatch-sma20" }), "SMA 20"),
    h("span", {}, h("span", { class: "swatch swatch-sma50" }), "SMA 50"),
    h("span", { class: "marker-buy" }, "\u25b2 buy fill"),
    h("span", { class: "marker-sell" }, "\u25bc sell fill"),
    h("span", {}, "Regime band:"),
    ["TRENDING", "RANGING", "CHOPPY", "CRISIS"].map((r) => h("span", {}, h("span", { class: `swatch swatch-${r.toLowerCase()}` }), r.toLowerCase())),
  );
  const fillsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));

  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, symbol), regimePill, tabs),
    unknown,
    h(
      "div",
      { class: "grid" },
      h("div", { class: "span-8" }, panel("Price (1 minute bars, UTC)", { id: "price", testid: "price-panel" }, chartBody, legend, chartNote)),
      h("div", { class: "span-4" }, panel("Order ticket", { id: "ticket" }, positionLine, ticket(symbol, ctx))),
      h("div", { class: "span-12" }, panel(`Recent fills of ${symbol}`, { id: "instrument-fills" }, fillsBody)),
    ),
  );
  ctx.onLeave(() => purge(chart));

  // The regime as of the node's clock: the last point of the history drawn below (the
  // service's "current" reading is at the source's last bar, ahead of a replay).
  function showRegime(regimes) {
    const points = (regimes?.points || []).filter((p) => drawnTs === null || p.ts_event <= drawnTs);
    const last = points[points.length - 1];
    if (!last) {
      fill(regimePill, h("span", { class: "pill" }, "regime unknown"));
      return;
    }
    fill(regimePill, h("span", { class: ["pill", `regime-${last.regime.toLowerCase()}`], title: `as of ${fmt.utc(last.ts_event)}` }, `${last.regime} ${fmt.pct(last.confidence, { digits: 0 })}`));
  }

  let drawnAt = 0;
  let drawnTs = null;
  let lastTrade = null;
  let busy = false;

  async function draw(snapshot) {
    if (busy) return;
    busy = true;
    drawnAt = Date.now();
    drawnTs = snapshot.ts;
    try {
      const end = snapshot.time;
      const answer = await api(
        `/api/market-data/market-data/ohlcv/${encodeURIComponent(symbol)}${query({ end, limit: BARS_SHOWN + SMA_SLOW, timeframe: "1m" })}`,
        { signal: ctx.signal },
      );
      // Never a bar later than the node's clock, whatever the source answers.
      const bars = answer.bars.filter((b) => b.ts_event <= snapshot.ts);
      if (!bars.length) {
        fill(chartBody, notice("empty", `No bars of ${symbol} up to ${fmt.utc(snapshot.ts)}`, "The market data starts later than the node's clock: wait for the replay to reach it, or check the market-data service on the Health page."));
        return;
      }
      const closes = bars.map((b) => b.close);
      const fast = sma(closes, 20);
      const slow = sma(closes, SMA_SLOW);
      const shown = bars.slice(-BARS_SHOWN);
      const from = bars.length - shown.length;
      const x = shown.map((b) => fmt.plotTime(b.ts_event));
      const firstNs = shown[0].ts_event;
      const lastNs = shown[shown.length - 1].ts_event + BAR_NS;

      const [fills, regimes] = await Promise.all([
        loadRecentFills(snapshot.ts, { want: 200, signal: ctx.signal, instrument: symbol }).catch(() => []),
        api(
          `/api/regime/regime/${encodeURIComponent(symbol)}/history${query({ start: new Date(fmt.nsToMs(firstNs)).toISOString(), end })}`,
          { signal: ctx.signal },
        ).catch(() => null),
      ]);
      showRegime(regimes);
      fill(fillsBody, fillsTable(fills.slice(0, 10), { testid: "instrument-fills-table" }));
      const inRange = fills.filter((f) => f.ts_event >= firstNs && f.ts_event <= lastNs);
      const markers = (sideName, symbolName, color) => {
        const these = inRange.filter((f) => f.side === sideName);
        return {
          type: "scatter",
          mode: "markers",
          name: `${sideName.toLowerCase()} fills`,
          x: these.map((f) => fmt.plotTime(f.ts_event)),
          y: these.map((f) => Number(f.price)),
          text: these.map((f) => `${f.side} ${fmt.qty(f.quantity)} @ ${fmt.price(f.price)}`),
          hovertemplate: "%{text}<extra></extra>",
          marker: { symbol: symbolName, size: 12, color, line: { color: "#ffffff", width: 1 } },
        };
      };
      const shapes = (regimes?.segments || [])
        .filter((s) => s.end_ts >= firstNs)
        .map((s) => ({
          type: "rect",
          xref: "x",
          yref: "paper",
          x0: fmt.plotTime(Math.max(s.start_ts, firstNs)),
          x1: fmt.plotTime(Math.min(s.end_ts + BAR_NS, lastNs)),
          y0: 0,
          y1: 0.05,
          fillcolor: REGIME_COLORS[s.regime] || REGIME_COLORS.UNKNOWN,
          line: { width: 0 },
          layer: "below",
        }));
      if (!chartBody.contains(chart)) fill(chartBody, chart);
      await nextFrame();
      await plot(
        chart,
        [
          {
            type: "candlestick",
            name: symbol,
            x,
            open: shown.map((b) => b.open),
            high: shown.map((b) => b.high),
            low: shown.map((b) => b.low),
            close: shown.map((b) => b.close),
            increasing: { line: { color: COLORS.up } },
            decreasing: { line: { color: COLORS.down } },
          },
          { type: "scatter", mode: "lines", name: "SMA 20", x, y: fast.slice(from), line: { color: COLORS.fast, width: 1.5 }, hovertemplate: "SMA 20 %{y:,.2f}<extra></extra>" },
          { type: "scatter", mode: "lines", name: "SMA 50", x, y: slow.slice(from), line: { color: COLORS.slow, width: 1.5 }, hovertemplate: "SMA 50 %{y:,.2f}<extra></extra>" },
          markers("BUY", "triangle-up", COLORS.up),
          markers("SELL", "triangle-down", COLORS.down),
        ],
        baseLayout({
          // The axis under the regime band (at the bottom of the plot), not on the bars.
          xaxis: { type: "date", rangeslider: { visible: false }, gridcolor: COLORS.grid, hoverformat: "%Y-%m-%d %H:%M UTC", anchor: "free", position: 0 },
          yaxis: { domain: [0.08, 1], gridcolor: COLORS.grid, tickformat: ",.2f", automargin: true },
          shapes,
        }),
      );
      const outside = fills.length - inRange.length;
      fill(
        chartNote,
        `Bars to ${fmt.utc(shown[shown.length - 1].ts_event, { seconds: false })} (node time ${fmt.utc(snapshot.ts)}).`,
        outside > 0 ? ` ${fmt.count(outside)} recent fills fall outside these bars and are not marked.` : "",
      );
    } catch (error) {
      fill(chartBody, errorNotice(error, `Could not load the bars of ${symbol}`));
    } finally {
      busy = false;
    }
  }

  async function showPosition() {
    try {
      const positions = await api("/api/portfolio/portfolio/positions", { signal: ctx.signal });
      const p = positions.find((x) => x.instrument_id === symbol);
      fill(
        positionLine,
        p
          ? h("span", {}, "Position ", h("strong", {}, fmt.qty(p.quantity, { sign: true })), ` @ ${fmt.price(p.avg_px_open)}, last ${fmt.price(p.last_price)}, unrealised `, signedMoney(p.unrealized_pnl))
          : `No position in ${symbol}.`,
      );
    } catch (error) {
      fill(positionLine, error.detail || String(error));
    }
  }

  ctx.onSnapshot((s) => {
    const trade = s.last_fill ? s.last_fill.trade_id : null;
    const newFill = trade !== lastTrade;
    lastTrade = trade;
    const newBar = drawnTs === null || s.ts - drawnTs >= BAR_NS;
    if ((newFill || newBar) && Date.now() - drawnAt > (newFill ? 0 : REDRAW_MIN_MS)) {
      draw(s);
      showPosition();
    }
  });
  if (!ctx.stream.latest) {
    const snapshot = await ctx.nodeTime();
    draw(snapshot);
    showPosition();
  }
}

function ticket(symbol, ctx) {
  if (!ctx.canTrade()) {
    return notice("info", "Viewing only", "Your role (viewer) cannot place orders: ask an admin for the trader role.");
  }
  const sideBuy = h("input", { type: "radio", name: "side", value: "BUY", checked: true });
  const sideSell = h("input", { type: "radio", name: "side", value: "SELL" });
  const type = h("select", { id: "order-type", name: "order_type" }, h("option", { value: "MARKET" }, "Market"), h("option", { value: "LIMIT" }, "Limit"));
  const quantity = h("input", { type: "number", id: "order-quantity", name: "quantity", min: "1", step: "1", value: "10", required: true, inputmode: "numeric" });
  const limit = h("input", { type: "number", id: "order-price", name: "price", min: "0", step: "0.01", disabled: true, inputmode: "decimal" });
  const submit = h("button", { type: "submit", class: "button button-buy", id: "order-submit" }, `Buy ${symbol}`);
  const result = h("div", { class: "result", role: "status", "aria-live": "polite", "data-testid": "order-result" });

  function sync() {
    const buy = sideBuy.checked;
    submit.className = `button ${buy ? "button-buy" : "button-sell"}`;
    fill(submit, `${buy ? "Buy" : "Sell"} ${symbol}`);
    limit.disabled = type.value !== "LIMIT";
    limit.required = type.value === "LIMIT";
  }
  [sideBuy, sideSell, type].forEach((el) => el.addEventListener("change", sync));

  const form = h(
    "form",
    { "aria-label": `Order ticket for ${symbol}` },
    h(
      "fieldset",
      { class: "field" },
      h("legend", {}, "Side"),
      h(
        "div",
        { class: "segmented" },
        h("label", { class: "side-buy" }, sideBuy, h("span", {}, "Buy")),
        h("label", { class: "side-sell" }, sideSell, h("span", {}, "Sell")),
      ),
    ),
    h(
      "div",
      { class: "field-row" },
      h("div", { class: "field" }, h("label", { for: "order-type" }, "Type"), type),
      h("div", { class: "field" }, h("label", { for: "order-quantity" }, "Quantity"), quantity),
      h("div", { class: "field" }, h("label", { for: "order-price" }, "Limit price"), limit),
    ),
    h("div", { class: "actions" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      client_order_id: orderId(),
      instrument_id: symbol,
      side: sideBuy.checked ? "BUY" : "SELL",
      order_type: type.value,
      quantity: quantity.value,
    };
    if (type.value === "LIMIT") body.price = limit.value;
    submit.disabled = true;
    result.className = "result";
    result.dataset.clientOrderId = body.client_order_id;
    fill(result, `Sending ${body.side} ${fmt.qty(body.quantity)} ${symbol}\u2026`);
    try {
      const order = await api("/api/execution/orders", { method: "POST", body, signal: ctx.signal });
      result.className = "result result-ok";
      result.dataset.status = order.status;
      const done = order.avg_px ? ` ${fmt.qty(order.filled_qty)} @ ${fmt.price(order.avg_px)}` : "";
      fill(result, `Order ${order.client_order_id}: ${order.status}${done}.`, order.status === "ACCEPTED" ? " Working: it shows on the overview until it fills." : "");
    } catch (error) {
      result.className = "result result-error";
      result.dataset.status = "REFUSED";
      fill(result, h("span", {}, `Refused (${error.status || "no answer"}): `), h("span", { "data-testid": "order-error" }, error.detail), h("p", { class: "hint" }, error.status === 422 && /HALTED/.test(error.detail) ? "Trading is halted: an admin can resume it on the Risk page." : error.hint));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
