// ML: registered models and their versions, recent predictions with their outcomes,
// and how well the confidences are calibrated.

import { api, latest, query } from "../api.js";
import { fill, h, nextFrame, notice, panel, table } from "../dom.js";
import * as fmt from "../format.js";
import { COLORS, baseLayout, plot, purge } from "../charts.js";
import { errorNotice, instrumentLink } from "./common.js";

export async function render(root, ctx) {
  const modelsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const predictionsBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const scoreBody = h("div", {}, h("p", { class: "loading" }, "Loading\u2026"));
  const chart = h("div", { class: "chart chart-short", role: "img", "aria-label": "Calibration: hit rate against confidence" });
  fill(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Machine learning")),
    h(
      "div",
      { class: "grid" },
      h("div", { class: "span-12" }, panel("Models and versions", { id: "models" }, modelsBody)),
      h("div", { class: "span-7" }, panel("Recent predictions and outcomes", { id: "predictions" }, predictionsBody)),
      h("div", { class: "span-5" }, panel("Calibration and hit rates", { id: "calibration" }, scoreBody)),
    ),
  );
  ctx.onLeave(() => purge(chart));

  try {
    const { models } = await api("/api/ml/ml/models", { signal: ctx.signal });
    fill(
      modelsBody,
      table(
        [
          { label: "Model", cell: (m) => h("strong", {}, m.name) },
          { label: "Production", numeric: true, cell: (m) => (m.production_version ?? "\u2013") },
          { label: "Staging", numeric: true, cell: (m) => (m.staging_version ?? "\u2013") },
          { label: "Latest", numeric: true, cell: (m) => (m.latest_version ?? "\u2013") },
          {
            label: "Served",
            cell: (m) =>
              m.serving
                ? h("span", { title: m.serving.last_error || "" }, `v${m.serving.version ?? "?"} since ${fmt.utc(m.serving.loaded_at_ns)}`, m.serving.reload_failures ? h("span", { class: "negative" }, ` (${m.serving.reload_failures} reload failures)`) : null)
                : h("span", { class: "muted" }, "not served"),
          },
          {
            label: "Versions (stage)",
            class: "wrap",
            cell: (m) =>
              h(
                "span",
                { class: "choices" },
                m.versions.map((v) => h("span", { class: ["pill", `state-${v.stage}`], title: `created ${fmt.utc(v.created_at_ns)}, features ${v.feature_set_name}` }, `v${v.version} ${v.stage}`)),
              ),
          },
        ],
        models,
        {
          testid: "models-table",
          empty: notice("empty", "No models registered yet", "Train one with `quantgrid ml train --model mr`, then approve it to staging and production (`quantgrid ml approve`); see docs/ml.md."),
        },
      ),
    );
  } catch (error) {
    fill(modelsBody, errorNotice(error, "Could not load the models"));
  }

  try {
    // The node's clock, not the wall's: on a replay the predictions carry its time.
    const now = (await ctx.nodeTime()).ts;
    const predictions = await latest((since) => `/api/evaluation/evaluation/predictions${query({ since })}`, {
      want: 25,
      nowNs: now,
      signal: ctx.signal,
    });
    const outcome = (p) => {
      if (!p.outcome) return h("span", { class: "pill state-pending" }, "pending");
      if (p.outcome.hit === true) return h("span", { class: "pill state-ok" }, "hit");
      if (p.outcome.hit === false) return h("span", { class: "pill state-failed" }, "miss");
      return h("span", { class: "pill", title: p.outcome.detail }, p.outcome.status);
    };
    fill(
      predictionsBody,
      table(
        [
          { label: "Made (UTC)", cell: (p) => fmt.stamp(p.ts_event) },
          { label: "Model", cell: (p) => `${p.model_name} v${p.model_version}` },
          { label: "Instrument", cell: (p) => instrumentLink(p.instrument_id) },
          { label: "Call", cell: (p) => p.direction },
          { label: "Confidence", numeric: true, cell: (p) => fmt.pct(p.confidence, { digits: 1 }) },
          { label: "Outcome", cell: outcome },
          { label: "Return", numeric: true, cell: (p) => (p.outcome && p.outcome.realized_return !== null ? h("span", { class: fmt.tone(p.outcome.realized_return) }, fmt.pct(p.outcome.realized_return, { sign: true, digits: 3 })) : "\u2013") },
        ],
        predictions.slice().reverse(),
        {
          testid: "predictions-table",
          empty: notice("empty", "No predictions logged yet", "A model in production is asked on every bar by the scheduler's prediction cycle; outcomes follow after the horizon. Check the ml and evaluation services on the Health page."),
        },
      ),
    );
  } catch (error) {
    fill(predictionsBody, errorNotice(error, "Could not load the predictions"));
  }

  try {
    const m = await api("/api/evaluation/evaluation/metrics", { signal: ctx.signal });
    const rate = (x) => (x && x.count ? `${fmt.pct(x.hit_rate, { digits: 1 })} of ${fmt.count(x.count)}` : "\u2013");
    const facts = h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Predictions"),
      h("dd", {}, `${fmt.count(m.total)} (${fmt.count(m.resolved)} resolved, ${fmt.count(m.pending)} pending)`),
      h("dt", {}, "Calls hit"),
      h("dd", {}, rate(m.calls)),
      h("dt", {}, "Baseline: always up"),
      h("dd", {}, rate(m.baselines?.always_up)),
      h("dt", {}, "Baseline: last direction"),
      h("dd", {}, rate(m.baselines?.last_direction)),
      h("dt", {}, "Brier score"),
      h("dd", {}, fmt.ratio(m.brier_score, 3)),
    );
    const bins = m.calibration || [];
    if (!bins.length) {
      fill(scoreBody, facts, notice("empty", "No calibration yet", "It needs resolved predictions: they resolve once their horizon has passed."));
      return;
    }
    fill(
      scoreBody,
      facts,
      chart,
      table(
        [
          { label: "Confidence", cell: (b) => `${fmt.pct(b.lower, { digits: 0 })}\u2013${fmt.pct(b.upper, { digits: 0 })}` },
          { label: "Predictions", numeric: true, cell: (b) => fmt.count(b.count) },
          { label: "Mean confidence", numeric: true, cell: (b) => fmt.pct(b.mean_confidence, { digits: 1 }) },
          { label: "Hit rate", numeric: true, cell: (b) => fmt.pct(b.hit_rate, { digits: 1 }) },
        ],
        bins,
        { testid: "calibration-table" },
      ),
    );
    await nextFrame();
    plot(
      chart,
      [
        { type: "scatter", mode: "lines", x: [0, 1], y: [0, 1], line: { color: COLORS.muted, dash: "dot", width: 1 }, hoverinfo: "skip", name: "perfect" },
        { type: "scatter", mode: "lines+markers", x: bins.map((b) => b.mean_confidence), y: bins.map((b) => b.hit_rate), marker: { size: bins.map((b) => 6 + Math.min(14, Math.sqrt(b.count))), color: COLORS.line }, name: "hit rate", hovertemplate: "confidence %{x:.0%}: hit rate %{y:.1%}<extra></extra>" },
      ],
      baseLayout({ xaxis: { title: { text: "confidence" }, range: [0, 1], tickformat: ".0%", gridcolor: COLORS.grid }, yaxis: { title: { text: "hit rate" }, range: [0, 1], tickformat: ".0%", gridcolor: COLORS.grid }, hovermode: "closest", margin: { l: 56, r: 12, t: 8, b: 44 } }),
    );
  } catch (error) {
    fill(scoreBody, errorNotice(error, "Could not load the evaluation"));
  }
}
