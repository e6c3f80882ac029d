// The gateway's API: the session (tokens in sessionStorage), requests with the access
// token, one refresh on a 401, and errors that carry the problem's detail and what
// the user can do about it.

const SESSION_KEY = "quantgrid.console.session";

/** The gateway's root URL: the console is served at <root>/console/. */
export const ROOT = new URL("../", new URL(".", location.href)).href.replace(/\/$/, "");

/** An answer that is not a success, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, detail, { title = "", hint = "", problem = null, retryAfter = null } = {}) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.title = title;
    this.hint = hint;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

function saveSession(value) {
  if (value === null) sessionStorage.removeItem(SESSION_KEY);
  else sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

/** Roles in order: a caller may do what its role and those below may. */
const RANK = { viewer: 1, trader: 2, admin: 3 };

export function hasRole(role) {
  const s = session();
  return Boolean(s && RANK[s.role] >= RANK[role]);
}

function unreachable(error) {
  return new ApiError(
    0,
    `Cannot reach the QuantGrid gateway at ${ROOT} (${error.message}).`,
    {
      title: "Gateway unreachable",
      hint: "Check that `quantgrid up` (or the gateway) is running and reachable, then retry.",
    },
  );
}

function hintFor(status, problem, retryAfter) {
  switch (status) {
    case 400:
    case 422:
      return "Correct the fields named above and send again.";
    case 401:
      return "Log in again.";
    case 403:
      return "Your role does not allow this: ask an admin for a higher role.";
    case 404:
      return "It may have been deleted, or the link is out of date: go back and reload the list.";
    case 409:
      return "Reload the page to see the current state, then try again.";
    case 413:
      return "Send less data at once.";
    case 429:
      return `Too many requests: wait ${retryAfter || "a few"} seconds and retry.`;
    case 502:
    case 503:
    case 504:
      return `A service or the trading node is not available: see the Health page, and retry${retryAfter ? ` in ${retryAfter} s` : " shortly"}.`;
    default:
      if (status >= 500) {
        const id = problem && problem.correlation_id;
        return `The server failed: retry, and if it fails again look for ${id ? `correlation id ${id}` : "this request"} in the gateway's log.`;
      }
      return "";
  }
}

async function problemOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  const retryAfter = response.headers.get("retry-after");
  let detail = (problem && (problem.detail || problem.title)) || `${response.status} ${response.statusText}`;
  if (problem && Array.isArray(problem.errors) && problem.errors.length && !problem.detail) {
    detail = problem.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  }
  return new ApiError(response.status, detail, {
    title: (problem && problem.title) || response.statusText,
    hint: hintFor(response.status, problem, retryAfter),
    problem,
    retryAfter,
  });
}

async function send(path, { method = "GET", body, token, signal, headers = {} } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(ROOT + path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw unreachable(error);
  }
}

let refreshing = null;

/** Spend the refresh token for new tokens (once, however many requests wait on it). */
async function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const current = session();
      if (!current || !current.refresh) throw new ApiError(401, "You are not logged in.", { hint: "Log in." });
      const response = await send("/auth/refresh", { method: "POST", body: { refresh_token: current.refresh } });
      if (!response.ok) {
        saveSession(null);
        const error = await problemOf(response);
        error.detail = `Your session has ended (${error.detail}).`;
        error.message = error.detail;
        error.hint = "Log in again.";
        throw error;
      }
      const tokens = await response.json();
      saveSession({ ...current, access: tokens.access_token, refresh: tokens.refresh_token });
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Listeners told when the session ends (a refresh failed): the app shows the login. */
const sessionEnded = new EventTarget();
export function onSessionEnded(listener) {
  sessionEnded.addEventListener("ended", listener);
}

/**
 * Call the API; answer the parsed JSON (or the Response itself with `raw: true`).
 * A 401 refreshes the tokens once and retries; other failures throw ApiError.
 */
export async function api(path, { method = "GET", body, raw = false, signal, accept } = {}) {
  const headers = accept ? { Accept: accept } : {};
  let response = await send(path, { method, body, token: session()?.access, signal, headers });
  if (response.status === 401 && session()?.refresh) {
    try {
      await refresh();
    } catch (error) {
      sessionEnded.dispatchEvent(new CustomEvent("ended", { detail: error }));
      throw error;
    }
    response = await send(path, { method, body, token: session()?.access, signal, headers });
  }
  if (!response.ok) {
    const error = await problemOf(response);
    if (response.status === 401) {
      saveSession(null);
      sessionEnded.dispatchEvent(new CustomEvent("ended", { detail: error }));
    }
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** Log in; keep the tokens and the caller's role for this tab. */
export async function login(username, password) {
  const response = await send("/auth/login", { method: "POST", body: { username, password } });
  if (!response.ok) throw await problemOf(response);
  const tokens = await response.json();
  saveSession({ username, access: tokens.access_token, refresh: tokens.refresh_token, role: "viewer" });
  const me = await api("/auth/me");
  saveSession({ ...session(), username: me.subject, role: me.role });
  return session();
}

export function logout() {
  saveSession(null);
}

/** A query string from an object, leaving out null and undefined values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * The latest `want` items of a listing that pages oldest first: asks windows that
 * end now (5 min, 1 h, 1 day, 30 days, all) until one holds `want` items.
 * `path(sinceNs)` builds the listing's path for a window start (null: all).
 */
export async function latest(path, { want = 20, nowNs, limit = 500, maxPages = 10, signal } = {}) {
  const minute = 60n * 1000000000n;
  const windows = [5n * minute, 60n * minute, 1440n * minute, 43200n * minute, null];
  const now = BigInt(nowNs);
  let items = [];
  for (const span of windows) {
    const since = span === null ? null : `${now > span ? now - span : 0n}`;
    items = [];
    let after = null;
    for (let page = 0; page < maxPages; page += 1) {
      const base = path(since);
      const paging = query({ limit, after }).slice(1);
      const answer = await api(`${base}${base.includes("?") ? "&" : "?"}${paging}`, { signal });
      items.push(...answer.items);
      after = answer.next_cursor;
      if (!after) break;
    }
    if (items.length >= want || span === null) break;
  }
  return items.slice(-want);
}
