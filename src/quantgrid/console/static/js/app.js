// The console's shell: hash routes, the top bar (node clock, trading state, live
// updates, user), and the account stream every page listens to.

import { api, hasRole, logout, onSessionEnded, session } from "./api.js";
import { fill, h, statePill } from "./dom.js";
import { utc } from "./format.js";
import { AccountStream } from "./stream.js";

const PAGES = {
  overview: { title: "Overview", module: "./pages/overview.js" },
  instrument: { title: "Instruments", module: "./pages/instrument.js" },
  risk: { title: "Risk", module: "./pages/risk.js" },
  backtests: { title: "Backtests", module: "./pages/backtests.js" },
  ml: { title: "ML", module: "./pages/ml.js" },
  health: { title: "Health", module: "./pages/health.js" },
  login: { title: "Log in", module: "./pages/login.js", public: true },
};
const NAV = ["overview", "instrument", "risk", "backtests", "ml", "health"];

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const stream = new AccountStream();
let current = null; // {name, controller, listeners, cleanups}
let loginMessage = "";

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] && PAGES[parts[0]] ? parts[0] : "overview";
  return { name, params: parts.slice(1) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function buildTopbar() {
  const nav = document.getElementById("nav");
  fill(
    nav,
    NAV.map((name) =>
      h("li", {}, h("a", { href: `#/${name}`, "data-page": name }, PAGES[name].title)),
    ),
  );
  document.getElementById("logout").addEventListener("click", () => {
    logout();
    stream.stop();
    loginMessage = "You have logged out.";
    navigate("#/login");
  });
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
}

function showUser() {
  const s = session();
  fill(document.getElementById("user"), s ? h("span", {}, s.username, " ", h("span", { class: "role" }, `(${s.role})`)) : "");
}

function showSnapshot(snapshot) {
  fill(document.getElementById("clock"), h("span", { class: "muted" }, "Node time "), h("time", { datetime: snapshot.time }, utc(snapshot.ts)));
  const state = document.getElementById("trading-state");
  fill(state, statePill(snapshot.trading_state, "topbar-trading-state"));
  state.title = snapshot.trading_reason || "";
}

function showStreamStatus({ state, message }) {
  const el = document.getElementById("live");
  el.className = `live live-${state}`;
  el.title = message;
  fill(el, h("span", { class: "dot", "aria-hidden": "true" }), { live: "Live", connecting: "Connecting", polling: "Polling", retrying: "Reconnecting", stopped: "Offline" }[state] || state);
}

stream.addEventListener("snapshot", (event) => showSnapshot(event.detail));
stream.addEventListener("status", (event) => showStreamStatus(event.detail));

onSessionEnded((event) => {
  stream.stop();
  loginMessage = event.detail?.detail || "Your session has ended: log in again.";
  navigate("#/login");
});

/** Resolve with the latest snapshot: the stream's, or the trading state's clock. */
function nodeTime(signal) {
  if (stream.latest) return Promise.resolve(stream.latest);
  return new Promise((resolve, reject) => {
    const onSnapshot = (event) => {
      clearTimeout(timer);
      resolve(event.detail);
    };
    const timer = setTimeout(async () => {
      stream.removeEventListener("snapshot", onSnapshot);
      try {
        const state = await api("/api/risk/risk/state", { signal });
        resolve({ ts: state.ts, time: new Date(state.ts / 1e6).toISOString(), trading_state: state.state, trading_reason: state.reason });
      } catch (error) {
        reject(error);
      }
    }, 3000);
    stream.addEventListener("snapshot", onSnapshot, { once: true });
  });
}

async function route() {
  const { name, params } = parseRoute();
  const page = PAGES[name];
  if (!page.public && !session()) {
    sessionStorage.setItem("quantgrid.console.next", location.hash || "#/overview");
    navigate("#/login");
    return;
  }
  if (current) {
    current.controller.abort();
    current.listeners.forEach(([type, fn]) => stream.removeEventListener(type, fn));
    for (const cleanup of current.cleanups) {
      try {
        cleanup();
      } catch (error) {
        console.error(error);
      }
    }
  }
  const controller = new AbortController();
  const listeners = [];
  const cleanups = [];
  current = { name, controller, listeners, cleanups };
  topbar.hidden = Boolean(page.public);
  document.title = `${page.title} \u00b7 QuantGrid`;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!page.public) {
    showUser();
    stream.start();
  }
  fill(main, h("p", { class: "loading", role: "status" }, "Loading\u2026"));
  const ctx = {
    params,
    signal: controller.signal,
    stream,
    navigate,
    nodeTime: () => nodeTime(controller.signal),
    canTrade: () => hasRole("trader"),
    isAdmin: () => hasRole("admin"),
    /** Run `fn` when the page is left (stop timers, free charts). */
    onLeave(fn) {
      cleanups.push(fn);
    },
    on(type, fn) {
      listeners.push([type, fn]);
      stream.addEventListener(type, fn);
    },
    onSnapshot(fn) {
      const listener = (event) => fn(event.detail);
      this.on("snapshot", listener);
      if (stream.latest) fn(stream.latest);
    },
    loginMessage: () => {
      const message = loginMessage;
      loginMessage = "";
      return message;
    },
    loggedIn: () => {
      showUser();
      stream.start();
      const next = sessionStorage.getItem("quantgrid.console.next") || "#/overview";
      sessionStorage.removeItem("quantgrid.console.next");
      navigate(next === "#/login" ? "#/overview" : next);
    },
  };
  try {
    const module = await import(page.module);
    if (controller.signal.aborted) return;
    const view = h("div", { class: `page page-${name}` });
    fill(main, view);
    await module.render(view, ctx);
  } catch (error) {
    if (controller.signal.aborted || error.name === "AbortError") return;
    console.error(error);
    fill(
      main,
      h(
        "div",
        { class: "notice notice-error", role: "alert" },
        h("strong", {}, `The ${page.title} page failed to load`),
        h("p", {}, error.detail || error.message),
        h("p", {}, error.hint || "Reload the page; if it fails again, see the Health page."),
      ),
    );
  }
}

buildTopbar();
window.addEventListener("hashchange", route);
route();
