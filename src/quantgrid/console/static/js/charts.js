// Plotly, served from the installed plotly package (window.Plotly, loaded by
// index.html before the modules): shared layout and colours.

export const COLORS = {
  up: "#1a7f4b",
  down: "#c0392b",
  line: "#2456a6",
  fast: "#d98b00",
  slow: "#7a4fb5",
  grid: "#e3e6eb",
  text: "#1d2330",
  muted: "#5a6270",
};

export const REGIME_COLORS = {
  TRENDING: "rgba(36, 86, 166, 0.55)",
  RANGING: "rgba(26, 127, 75, 0.55)",
  CHOPPY: "rgba(217, 139, 0, 0.6)",
  CRISIS: "rgba(192, 57, 43, 0.65)",
  UNKNOWN: "rgba(140, 140, 140, 0.4)",
};

const CONFIG = {
  responsive: true,
  displaylogo: false,
  // The mode bar styles itself with inline <style> elements, which the page's
  // Content-Security-Policy refuses: zoom by dragging, double-click to reset.
  displayModeBar: false,
};

export function baseLayout(extra = {}) {
  return {
    margin: { l: 64, r: 16, t: 8, b: 36 },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    font: { family: "system-ui, -apple-system, 'Segoe UI', sans-serif", size: 12, color: COLORS.text },
    xaxis: { type: "date", gridcolor: COLORS.grid, linecolor: COLORS.grid, hoverformat: "%Y-%m-%d %H:%M:%S UTC" },
    yaxis: { gridcolor: COLORS.grid, linecolor: COLORS.grid, tickformat: ",.2f", automargin: true },
    showlegend: false,
    hovermode: "x unified",
    ...extra,
  };
}

/** Draw (or redraw in place) a chart in `el`. */
export function plot(el, traces, layout) {
  if (!window.Plotly) {
    el.textContent = "Charts are unavailable: plotly.min.js did not load (is the plotly package installed?).";
    return Promise.resolve();
  }
  return window.Plotly.react(el, traces, layout, CONFIG);
}

/** Free a chart's listeners when its page is left. */
export function purge(el) {
  if (window.Plotly && el) window.Plotly.purge(el);
}
