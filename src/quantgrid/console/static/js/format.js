// Numbers and times as a trader reads them: thousands separators, signed P&L,
// percentages, and timestamps in UTC. Every function takes null or undefined and
// answers an en dash, so a missing figure never reads as zero.

const DASH = "\u2013";
const LOCALE = "en-US";

const money2 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const signedMoney2 = new Intl.NumberFormat(LOCALE, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  signDisplay: "exceptZero",
});

function missing(value) {
  return value === null || value === undefined || value === "" || Number.isNaN(Number(value));
}

/** The number rounded to `digits` places, with -0 made 0 (so -0.001 reads "0.00"). */
function tidy(value, digits) {
  return Number(Number(value).toFixed(digits)) + 0;
}

/** Text as a sentence: with a full stop at its end. */
export function sentence(text) {
  const trimmed = String(text ?? "").trim();
  return !trimmed || /[.!?:)]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** 1234567.891 -> "1,234,567.89" */
export function money(value) {
  return missing(value) ? DASH : money2.format(tidy(value, 2));
}

/** P&L: 1234.5 -> "+1,234.50", -3 -> "-3.00", 0 -> "0.00" */
export function signed(value) {
  return missing(value) ? DASH : signedMoney2.format(tidy(value, 2)).replace("\u2212", "-");
}

/** A fraction as a percentage: 0.01234 -> "1.23%"; signed: "+1.23%". */
export function pct(fraction, { digits = 2, sign = false } = {}) {
  if (missing(fraction)) return DASH;
  return percentOf(Number(fraction) * 100, { digits, sign });
}

/** A number already in percent: 1.234 -> "1.23%". */
export function percentOf(value, { digits = 2, sign = false } = {}) {
  if (missing(value)) return DASH;
  const format = new Intl.NumberFormat(LOCALE, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
    signDisplay: sign ? "exceptZero" : "auto",
  });
  return `${format.format(tidy(value, digits))}%`;
}

/** Quantities: whole numbers with separators, fractions kept (up to 8 places). */
export function qty(value, { sign = false } = {}) {
  if (missing(value)) return DASH;
  const format = new Intl.NumberFormat(LOCALE, {
    maximumFractionDigits: 8,
    signDisplay: sign ? "exceptZero" : "auto",
  });
  return format.format(Number(value));
}

/** Prices: at least 2 places, at most 6. */
export function price(value) {
  if (missing(value)) return DASH;
  const format = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 6 });
  return format.format(Number(value));
}

/** Plain counts: 12345 -> "12,345". */
export function count(value) {
  return missing(value) ? DASH : new Intl.NumberFormat(LOCALE).format(Number(value));
}

/** A ratio with fixed places (Sharpe, Brier): 1.2345 -> "1.23". */
export function ratio(value, digits = 2) {
  if (missing(value)) return DASH;
  return new Intl.NumberFormat(LOCALE, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(tidy(value, digits));
}

/** "positive", "negative" or "" for colouring a signed figure. */
export function tone(value) {
  if (missing(value) || Number(value) === 0) return "";
  return Number(value) > 0 ? "positive" : "negative";
}

/** Nanoseconds since the epoch (a JSON number, so rounded) -> milliseconds. */
export function nsToMs(ns) {
  return Number(ns) / 1e6;
}

/** Milliseconds -> integer nanoseconds as a string, for query parameters. */
export function msToNs(ms) {
  return `${BigInt(Math.floor(ms)) * 1000000n}`;
}

/** "2024-01-14 21:20:05 UTC" from nanoseconds since the epoch. */
export function utc(ns, { seconds = true } = {}) {
  if (missing(ns)) return DASH;
  const iso = new Date(nsToMs(ns)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

/** "2024-01-14 21:20:05" (UTC, said by the column's heading) for tables. */
export function stamp(ns) {
  if (missing(ns)) return DASH;
  const iso = new Date(nsToMs(ns)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** "3 fills", "1 fill". */
export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${Number(n) === 1 ? one : many}`;
}

/** "21:20:05" (UTC) from nanoseconds, for dense tables. */
export function utcTime(ns) {
  if (missing(ns)) return DASH;
  return new Date(nsToMs(ns)).toISOString().slice(11, 19);
}

/** A Date for Plotly's time axes, which read ISO strings as local time otherwise. */
export function plotTime(ns) {
  return new Date(nsToMs(ns)).toISOString().replace("Z", "");
}

/** A long id cut to 12 characters, for tables (the full id is in the title). */
export function shortId(id) {
  return id && id.length > 16 ? `${id.slice(0, 12)}\u2026` : id || DASH;
}

/** Seconds as "850 ms", "4.2 s" or "3 min". */
export function duration(seconds) {
  if (missing(seconds)) return DASH;
  const s = Number(seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.round(s / 60)} min`;
}
