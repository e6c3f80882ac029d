// Pieces several pages share: tables of fills and orders, and an error notice.

import { api, latest, query } from "../api.js";
import { h, notice, table, toned } from "../dom.js";
import * as fmt from "../format.js";

/** A notice for a failed request: the problem's detail and what to do. */
export function errorNotice(error, title = "Could not load this") {
  if (error && error.name === "AbortError") return null;
  const heading = error.title && error.status ? `${title} (${error.status} ${error.title})` : title;
  const detail = fmt.sentence(error.detail || error.message || String(error));
  return notice("error", heading, detail, " ", error.hint || "Reload the page to try again.");
}

/** Side as a coloured word. */
export function side(value) {
  return h("span", { class: value === "BUY" ? "marker-buy" : "marker-sell" }, value);
}

export function instrumentLink(id) {
  return h("a", { href: `#/instrument/${encodeURIComponent(id)}` }, id);
}

const FILL_COLUMNS = [
  { label: "Time (UTC)", cell: (f) => fmt.stamp(f.ts_event) },
  { label: "Instrument", cell: (f) => instrumentLink(f.instrument_id) },
  { label: "Side", cell: (f) => side(f.side) },
  { label: "Quantity", numeric: true, cell: (f) => fmt.qty(f.quantity) },
  { label: "Price", numeric: true, cell: (f) => fmt.price(f.price) },
  { label: "Value", numeric: true, cell: (f) => fmt.money(Number(f.quantity) * Number(f.price)) },
  { label: "Commission", numeric: true, cell: (f) => fmt.money(f.commission) },
  { label: "Order", cell: (f) => h("code", { title: f.client_order_id }, fmt.shortId(f.client_order_id)) },
  { label: "Strategy", cell: (f) => f.strategy_id },
];

/** The latest fills (newest first), as of the node's clock. */
export async function loadRecentFills(nowNs, { want = 20, signal, instrument = null } = {}) {
  const fills = await latest((since) => `/api/execution/fills${query({ since_ns: since })}`, { want: instrument ? 500 : want, nowNs, signal });
  const mine = instrument ? fills.filter((f) => f.instrument_id === instrument) : fills;
  return mine.slice(-want).reverse();
}

export function fillsTable(fills, { testid = "fills-table", empty } = {}) {
  return table(FILL_COLUMNS, fills, {
    testid,
    rowKey: (f) => f.trade_id,
    empty:
      empty ||
      notice("empty", "No fills yet", "Strategies trade as the replay runs, or place an order on an ", h("a", { href: "#/instrument" }, "instrument page"), "."),
  });
}

/** Statuses of orders that may still trade. */
export const WORKING = ["INITIALIZED", "SUBMITTED", "ACCEPTED", "TRIGGERED", "PARTIALLY_FILLED", "PENDING_CANCEL", "PENDING_UPDATE"];

export async function loadWorkingOrders(signal) {
  const page = await api(`/api/execution/orders${query({ status: WORKING, limit: 200 })}`, { signal });
  return { orders: page.items.slice().reverse(), more: Boolean(page.next_cursor) };
}

export function ordersTable(orders, { canTrade, onCancel, testid = "orders-table" }) {
  const columns = [
    { label: "Time (UTC)", cell: (o) => fmt.stamp(o.ts_init) },
    { label: "Order", cell: (o) => h("code", { title: o.client_order_id }, fmt.shortId(o.client_order_id)) },
    { label: "Instrument", cell: (o) => instrumentLink(o.instrument_id) },
    { label: "Side", cell: (o) => side(o.side) },
    { label: "Type", cell: (o) => o.order_type },
    { label: "Quantity", numeric: true, cell: (o) => fmt.qty(o.quantity) },
    { label: "Price", numeric: true, cell: (o) => fmt.price(o.price ?? o.trigger_price) },
    { label: "Filled", numeric: true, cell: (o) => fmt.qty(o.filled_qty) },
    { label: "Status", cell: (o) => h("span", { class: ["pill", `state-${o.status.toLowerCase()}`] }, o.status) },
  ];
  if (canTrade) {
    columns.push({
      label: "",
      cell: (o) =>
        h("button", { type: "button", class: "button button-quiet button-small", "aria-label": `Cancel order ${o.client_order_id}`, onclick: () => onCancel(o) }, "Cancel"),
    });
  }
  return table(columns, orders, {
    testid,
    rowKey: (o) => o.client_order_id,
    empty: notice("empty", "No working orders", "Limit and stop orders wait here until they fill or are cancelled; place one on an ", h("a", { href: "#/instrument" }, "instrument page"), "."),
  });
}

/** A signed money figure, coloured. */
export function signedMoney(value) {
  return toned(fmt.signed(value), fmt.tone(value));
}
