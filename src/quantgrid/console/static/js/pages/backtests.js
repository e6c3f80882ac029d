// Backtests: launch one on the synthetic market, follow its progress, and open its
// report (the service's self-contained HTML) in a sandboxed frame.

import { api, query } from "../api.js";
import { fill, h, notice, panel, table } from "../dom.js";
import * as fmt from "../format.js";
import { errorNotice } from "./common.js";

const SHOWN_JOBS = 20;
const POLL_ACTIVE_MS = 1000;
const POLL_IDLE_MS = 10000;
const ACTIVE = new Set(["queued", "running"]);

/** The nonce the page's Content-Security-Policy allows (set on the app's script). */
function pageNonce() {
  return document.getElementById("console-app")?.nonce || "";
}

/**
 * The report's HTML made to run under the page's policy, which a srcdoc frame inherits
 * and which refuses inline code without the page's nonce: its scripts and styles get
 * the nonce, its style attributes become classes of a marked stylesheet, and Plotly
 * finds a marked stylesheet of its own to add its rules to (see index.html).
 */
export function reportDocument(html, nonce) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const el of doc.querySelectorAll("script, style")) el.setAttribute("nonce", nonce);
  const rules = [];
  doc.querySelectorAll("[style]").forEach((el, i) => {
    el.classList.add(`qg-inline-${i}`);
    rules.push(`.qg-inline-${i} { ${el.getAttribute("style")} }`);
    el.removeAttribute("style");
  });
  const sheet = doc.createElement("style");
  sheet.setAttribute("nonce", nonce);
  sheet.textContent = rules.join("\n");
  const plotlySheet = doc.createElement("style");
  plotlySheet.id = "plotly.js-style-global";
  plotlySheet.setAttribute("nonce", nonce);
  doc.head.prepend(sheet, plotlySheet);
  return `<!DOCTYPE html>\n${doc.documentElement.outerHTML}`;
}

function paramInput(name, schema, required) {
  const variants = schema.anyOf || [schema];
  const kind = variants.map((v) => v.type).find((t) => t && t !== "null") || "string";
  const id = `param-${name}`;
  const label = h("label", { for: id }, schema.title || name);
  const hint = schema.description ? h("span", { class: "hint field-hint", id: `${id}-hint` }, schema.description) : null;
  let input;
  if (kind === "boolean") {
    input = h("input", { type: "checkbox", id, name, checked: Boolean(schema.default) });
  } else if (schema.enum) {
    input = h("select", { id, name }, schema.enum.map((v) => h("option", { value: v, selected: v === schema.default }, v)));
  } else if (kind === "integer" || kind === "number") {
    const bound = variants.find((v) => v.type === kind) || {};
    input = h("input", {
      type: "number",
      id,
      name,
      step: kind === "integer" ? "1" : "any",
      min: bound.minimum ?? bound.exclusiveMinimum,
      max: bound.maximum ?? bound.exclusiveMaximum,
      value: schema.default ?? "",
      placeholder: schema.default === null ? "default" : null,
      required: required && schema.default === undefined,
    });
  } else {
    input = h("input", { type: "text", id, name, value: schema.default ?? "" });
  }
  input.dataset.kind = kind;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return { name, input, field: h("div", { class: "field" }, label, input, hint) };
}

function paramValue({ input }) {
  if (input.type === "checkbox") return input.checked;
  if (input.value === "") return undefined;
  if (input.dataset.kind === "integer") return Number.parseInt(input.value, 10);
  if (input.dataset.kind === "number") return Number(input.value);
  return input.value;
}

export async function render(root, ctx) {
  const jobsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const launchBody = h("div", {});
  const reportPanel = h("div", { class: "span-12", hidden: true });
  const results = new Map(); // job id -> results (done jobs)
  let timer = null;
  let launched = null;

  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Backtests"), h("span", { class: "muted" }, "Runs on the seeded synthetic market, on the backtest service's workers.")),
    h(
      "div",
      { class: "grid" },
      h("div", { class: "span-4" }, panel("Launch a backtest", { id: "launch" }, launchBody)),
      h("div", { class: "span-8" }, panel("Jobs (latest first)", { id: "jobs", testid: "jobs-panel" }, jobsBody)),
      reportPanel,
    ),
  );
  const blobUrls = [];
  ctx.onLeave(() => {
    clearTimeout(timer);
    blobUrls.forEach((url) => URL.revokeObjectURL(url));
  });

  // -- the launch form ---------------------------------------------------------------
  if (!ctx.canTrade()) {
    fill(launchBody, notice("info", "Launching needs the trader role", "You can follow jobs and open their reports; ask an admin for the trader role to launch one."));
  } else {
    try {
      const [strategies, symbols] = await Promise.all([
        api("/api/strategy/strategies", { signal: ctx.signal }),
        api("/api/market-data/market-data/symbols", { signal: ctx.signal }).catch(() => ({ symbols: ["SYN0", "SYN1", "SYN2", "SYN3"] })),
      ]);
      fill(launchBody, launchForm(strategies.items, symbols.symbols));
    } catch (error) {
      fill(launchBody, errorNotice(error, "Could not load the strategies"));
    }
  }

  function launchForm(strategies, symbols) {
    if (!strategies.length) return notice("empty", "No strategies registered", "The strategy service lists none: check it on the Health page.");
    const strategy = h("select", { id: "bt-strategy", name: "strategy" }, strategies.map((s) => h("option", { value: s.name, selected: s.name === "sma_cross" }, s.name)));
    const summary = h("p", { class: "hint" });
    const paramsBox = h("fieldset", { class: "field" }, h("legend", {}, "Parameters"));
    let params = [];
    const showParams = () => {
      const info = strategies.find((s) => s.name === strategy.value);
      fill(summary, info.summary || "");
      const props = info.params_schema?.properties || {};
      const required = new Set(info.params_schema?.required || []);
      params = Object.entries(props).map(([name, schema]) => paramInput(name, schema, required.has(name)));
      fill(paramsBox, h("legend", {}, "Parameters"), params.length ? h("div", { class: "field-row" }, params.map((p) => p.field)) : h("p", { class: "muted" }, "This strategy takes no parameters."));
    };
    strategy.addEventListener("change", showParams);
    showParams();
    const instruments = symbols.map((s, i) => h("label", { class: "choice" }, h("input", { type: "checkbox", name: "instrument", value: s, checked: i === 0 }), s));
    const bars = h("input", { type: "number", id: "bt-bars", min: "2", step: "1", value: "2000", required: true });
    const seed = h("input", { type: "number", id: "bt-seed", min: "0", step: "1", value: "7", required: true });
    const cash = h("input", { type: "number", id: "bt-cash", min: "1", step: "any", value: "100000", required: true });
    const commission = h("input", { type: "number", id: "bt-commission", min: "0", max: "0.5", step: "any", value: "0.001", required: true });
    const submit = h("button", { type: "submit", class: "button", id: "bt-submit" }, "Run backtest");
    const result = h("div", { class: "result", role: "status", "aria-live": "polite", "data-testid": "launch-result" });
    const form = h(
      "form",
      { "aria-label": "Launch a backtest" },
      h("div", { class: "field" }, h("label", { for: "bt-strategy" }, "Strategy"), strategy, summary),
      paramsBox,
      h("fieldset", { class: "field" }, h("legend", {}, "Instruments (synthetic)"), h("div", { class: "choices" }, instruments)),
      h(
        "div",
        { class: "field-row" },
        h("div", { class: "field" }, h("label", { for: "bt-bars" }, "Bars per instrument"), bars),
        h("div", { class: "field" }, h("label", { for: "bt-seed" }, "Seed"), seed),
      ),
      h(
        "div",
        { class: "field-row" },
        h("div", { class: "field" }, h("label", { for: "bt-cash" }, "Initial cash"), cash),
        h("div", { class: "field" }, h("label", { for: "bt-commission" }, "Commission", h("span", { class: "hint" }, " (fraction a side)")), commission),
      ),
      h("div", { class: "actions" }, submit),
      result,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = instruments.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      if (!chosen.length) {
        result.className = "result result-error";
        fill(result, "Pick at least one instrument.");
        return;
      }
      const values = Object.fromEntries(params.map((p) => [p.name, paramValue(p)]).filter(([, v]) => v !== undefined));
      const body = {
        strategy: strategy.value,
        params: values,
        data: { kind: "synthetic", instruments: chosen, bars: Number(bars.value), seed: Number(seed.value) },
        initial_cash: Number(cash.value),
        commission: Number(commission.value),
      };
      submit.disabled = true;
      result.className = "result";
      fill(result, "Submitting\u2026");
      try {
        const job = await api("/api/backtest/backtests", { method: "POST", body, signal: ctx.signal });
        launched = job.job_id;
        result.className = "result result-ok";
        result.dataset.jobId = job.job_id;
        fill(result, `Job ${fmt.shortId(job.job_id)} submitted: follow it in the list.`);
        poll();
      } catch (error) {
        result.className = "result result-error";
        fill(result, `Refused (${error.status || "no answer"}): ${error.detail}`, h("p", { class: "hint" }, error.hint));
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  // -- the jobs --------------------------------------------------------------------------
  async function loadJobs() {
    const jobs = [];
    let after = null;
    for (let page = 0; page < 10; page += 1) {
      const answer = await api(`/api/backtest/backtests${query({ limit: 100, after })}`, { signal: ctx.signal });
      jobs.push(...answer.items);
      after = answer.next_cursor;
      if (!after) break;
    }
    return jobs.slice(-SHOWN_JOBS).reverse();
  }

  async function resultsOf(job) {
    if (job.status !== "done") return null;
    if (!results.has(job.job_id)) {
      try {
        results.set(job.job_id, await api(`/api/backtest/backtests/${encodeURIComponent(job.job_id)}/results`, { signal: ctx.signal }));
      } catch {
        return null;
      }
    }
    return results.get(job.job_id);
  }

  async function cancel(job) {
    try {
      await api(`/api/backtest/backtests/${encodeURIComponent(job.job_id)}`, { method: "DELETE", signal: ctx.signal });
    } catch (error) {
      fill(jobsBody, errorNotice(error, "Could not cancel the job"));
    }
    poll();
  }

  function jobsTable(jobs, stats) {
    const columns = [
      { label: "Submitted (UTC)", cell: (j) => fmt.stamp(j.created_ns) },
      { label: "Strategy", cell: (j) => h("span", { title: `job ${j.job_id}` }, j.strategy) },
      { label: "Instruments", cell: (j) => (j.request?.data?.instruments || j.request?.data?.files?.map((f) => f.instrument_id) || []).join(", ") },
      { label: "Status", cell: (j) => h("span", { class: ["pill", `state-${j.status}`], "data-testid": "job-status", title: j.error || "" }, j.status) },
      {
        label: "Progress",
        cell: (j) =>
          h(
            "span",
            { class: "progress-cell" },
            h("progress", { max: "1", value: String(j.progress), "aria-label": `Progress of job ${j.job_id}` }),
            h("span", { class: "figure" }, fmt.pct(j.progress, { digits: 0 })),
          ),
      },
      { label: "Return", numeric: true, cell: (j) => (stats.get(j.job_id) ? h("span", { class: fmt.tone(stats.get(j.job_id).stats.return_pct) }, fmt.percentOf(stats.get(j.job_id).stats.return_pct, { sign: true })) : "\u2013") },
      { label: "Max DD", numeric: true, cell: (j) => (stats.get(j.job_id) ? fmt.percentOf(stats.get(j.job_id).stats.max_drawdown_pct) : "\u2013") },
      { label: "Trades", numeric: true, cell: (j) => (stats.get(j.job_id) ? fmt.count(stats.get(j.job_id).stats.n_trades) : "\u2013") },
      {
        label: "",
        cell: (j) => {
          if (j.status === "done") {
            return h("button", { type: "button", class: "button button-quiet button-small", "aria-label": `Open the report of job ${j.job_id}`, onclick: () => openReport(j) }, "Open report");
          }
          if (ACTIVE.has(j.status) && ctx.canTrade()) {
            return h("button", { type: "button", class: "button button-quiet button-small", "aria-label": `Cancel job ${j.job_id}`, onclick: () => cancel(j) }, "Cancel");
          }
          return j.error ? h("span", { class: "negative", title: j.error }, "see error") : "";
        },
      },
    ];
    return table(columns, jobs, {
      testid: "jobs-table",
      rowKey: (j) => j.job_id,
      empty: notice("empty", "No backtests yet", ctx.canTrade() ? "Launch one with the form: the defaults run sma_cross on 2,000 bars in a few seconds." : "A trader launches them; they appear here with their reports."),
    });
  }

  async function poll() {
    clearTimeout(timer);
    if (ctx.signal.aborted) return;
    let active = false;
    try {
      const jobs = await loadJobs();
      const stats = new Map();
      await Promise.all(jobs.map(async (j) => stats.set(j.job_id, await resultsOf(j))));
      active = jobs.some((j) => ACTIVE.has(j.status));
      const failed = jobs.find((j) => j.job_id === launched && j.status === "failed");
      fill(
        jobsBody,
        failed ? notice("error", "Your backtest failed", failed.error || "No error was recorded.", " Change its parameters or data and launch it again.") : null,
        jobsTable(jobs, stats),
      );
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(jobsBody, errorNotice(error, "Could not load the jobs"));
    }
    timer = setTimeout(poll, active ? POLL_ACTIVE_MS : POLL_IDLE_MS);
  }

  // -- the report ------------------------------------------------------------------------
  async function openReport(job) {
    reportPanel.hidden = false;
    const body = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading the report\u2026"));
    const close = h("button", { type: "button", class: "button button-quiet", onclick: () => { reportPanel.hidden = true; fill(reportPanel); } }, "Close report");
    fill(reportPanel, panel(`Report: ${job.strategy} (job ${fmt.shortId(job.job_id)})`, { id: "report", testid: "report-panel", actions: h("div", { class: "actions" }, close) }, body));
    reportPanel.scrollIntoView({ block: "start" });
    try {
      const [response, res] = await Promise.all([
        api(`/api/backtest/backtests/${encodeURIComponent(job.job_id)}/report`, { raw: true, accept: "text/html", signal: ctx.signal }),
        resultsOf(job),
      ]);
      const html = await response.text();
      const frame = h("iframe", {
        class: "report-frame",
        title: `Backtest report of ${job.strategy}, job ${job.job_id}`,
        // Scripts run, but in an opaque origin: the report cannot read this tab's tokens.
        sandbox: "allow-scripts allow-downloads",
        "data-testid": "report-frame",
      });
      frame.srcdoc = reportDocument(html, pageNonce());
      // A download, never a page of the console's origin (where the tokens live).
      const url = URL.createObjectURL(new Blob([html], { type: "application/octet-stream" }));
      blobUrls.push(url);
      const download = h("a", { class: "button button-quiet", href: url, download: `backtest-${job.job_id}.html` }, "Download report");
      const s = res?.stats;
      fill(
        body,
        s
          ? h(
              "dl",
              { class: "facts" },
              h("dt", {}, "Return"),
              h("dd", { class: fmt.tone(s.return_pct) }, fmt.percentOf(s.return_pct, { sign: true })),
              h("dt", {}, "Buy and hold"),
              h("dd", {}, fmt.percentOf(s.buy_hold_return_pct, { sign: true })),
              h("dt", {}, "Max drawdown"),
              h("dd", {}, fmt.percentOf(s.max_drawdown_pct)),
              h("dt", {}, "Sharpe"),
              h("dd", {}, fmt.ratio(s.sharpe)),
              h("dt", {}, "Trades / win rate"),
              h("dd", {}, `${fmt.count(s.n_trades)} / ${fmt.percentOf(s.win_rate_pct)}`),
              h("dt", {}, "Final equity"),
              h("dd", {}, fmt.money(s.equity_final)),
            )
          : null,
        h("div", { class: "actions" }, download),
        frame,
      );
    } catch (error) {
      fill(body, errorNotice(error, "Could not load the report"));
    }
  }

  poll();
}
