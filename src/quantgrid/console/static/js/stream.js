// The account's live snapshots: GET /api/portfolio/portfolio/stream, read with fetch
// and a stream reader (EventSource cannot send the Authorization header).
//
// The stream ends after max_s seconds and the reader connects again; on an error it
// waits 1, 2, 4 ... 30 s before the next try. If the first snapshot does not arrive
// within FIRST_EVENT_MS, or two streams in a row fail before their first snapshot (a
// proxy that buffers the answer until it ends, or times it out), it asks for one
// snapshot at a time instead (max_s=0), every POLL_MS.

import { api } from "./api.js";

const STREAM_PATH = "/api/portfolio/portfolio/stream";
const STREAM_S = 300;
const FIRST_EVENT_MS = 10000;
const POLL_MS = 2000;
const MAX_BACKOFF_MS = 30000;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Parse server-sent events from a byte stream; call onEvent(name, data) for each. */
export async function readEvents(body, onEvent, onComment) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) onComment?.(line.slice(1).trim());
        else if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

/**
 * Events: "snapshot" (detail: the snapshot), "status" (detail: {state, message}),
 * with state "connecting", "live", "polling", "retrying" or "stopped".
 */
export class AccountStream extends EventTarget {
  constructor() {
    super();
    this.latest = null;
    this.state = "stopped";
    this.polling = false;
    this._abort = null;
    this._silentFailures = 0;
  }

  start() {
    if (this._abort) return;
    this._abort = new AbortController();
    this._run(this._abort.signal);
  }

  stop() {
    this._abort?.abort();
    this._abort = null;
    this._status("stopped", "");
  }

  _status(state, message) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, message } }));
  }

  _snapshot(data) {
    const snapshot = JSON.parse(data);
    this.latest = snapshot;
    this.dispatchEvent(new CustomEvent("snapshot", { detail: snapshot }));
  }

  async _run(signal) {
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        if (this.polling) {
          await this._once(signal, 0);
          this._status("polling", "Updating every 2 s (the connection does not stream).");
          backoff = 1000;
          await sleep(POLL_MS, signal);
        } else {
          this._status("connecting", "Connecting to the live updates\u2026");
          await this._once(signal, STREAM_S);
          backoff = 1000;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error.status === 401) {
          this._status("stopped", "Log in again to get live updates.");
          return;
        }
        if (!this.polling && error.beforeFirstEvent && ++this._silentFailures >= 2) {
          this.polling = true;
          continue;
        }
        const seconds = Math.round(backoff / 1000);
        this._status("retrying", `Live updates lost (${error.detail || error.message}); retrying in ${seconds} s.`);
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  async _once(signal, maxS) {
    const attempt = new AbortController();
    const stopAttempt = () => attempt.abort();
    signal.addEventListener("abort", stopAttempt);
    let first = false;
    const watchdog =
      maxS > 0
        ? setTimeout(() => {
            if (!first) {
              this.polling = true;
              attempt.abort();
            }
          }, FIRST_EVENT_MS)
        : null;
    try {
      const response = await api(`${STREAM_PATH}?max_s=${maxS}`, {
        raw: true,
        signal: attempt.signal,
        accept: "text/event-stream",
      });
      await readEvents(response.body, (name, data) => {
        if (name === "snapshot") {
          if (!first && maxS > 0) this._status("live", "Live");
          first = true;
          this._silentFailures = 0;
          this._snapshot(data);
        } else if (name === "error") {
          throw Object.assign(new Error(JSON.parse(data).detail), { status: 503 });
        }
      });
    } catch (error) {
      // The watchdog's abort: switch to polling at once, without a back-off.
      if (error.name === "AbortError" && this.polling && !signal.aborted && maxS > 0) return;
      // No snapshot, and no answer or a proxy's timeout: the stream may never get through.
      if (maxS > 0 && !first && [0, 502, 504, undefined].includes(error.status)) error.beforeFirstEvent = true;
      throw error;
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", stopAttempt);
    }
  }
}
