// Live updates: the summaries stream (Server-Sent Events read with fetch, since EventSource cannot send a
// bearer token; parsed by eventsource-parser; resumed with Last-Event-ID), and when it is unavailable
// (404, 429, a network error) polling every second with If-None-Match, trying the stream again later.

import { authHeaders, get } from './api.js';
import config from './config.js';

const POLL_MS = 1000;
const RETRY_STREAM_MS = 30_000;

/**
 * Calls `onSummary({national, states})` whenever the summaries change, and `onMode('stream'|'polling')`;
 * `national: false` for a caller without a national scope (the national row is not polled).
 * Answers a function that stops everything.
 */
export function startLive({ national: withNational = true, onSummary, onMode }) {
  let stopped = false;
  let lastEventId = null;
  let controller = null;
  let pollTimer = null;
  const etags = { national: null, states: null };
  const latest = { national: null, states: null };

  async function pollOnce() {
    if (stopped) return;
    const [national, states] = await Promise.all([
      withNational ? get('/v1/summaries/national', { etag: etags.national }) : { status: 204 },
      get('/v1/summaries?level=state', { etag: etags.states }),
    ]);
    let changed = false;
    if (national.status === 200) {
      etags.national = national.etag;
      latest.national = national.body;
      changed = true;
    }
    if (states.status === 200) {
      etags.states = states.etag;
      latest.states = states.body.items;
      changed = true;
    }
    if (changed && !stopped) onSummary({ national: latest.national, states: latest.states });
  }

  function poll(until) {
    onMode('polling');
    const tick = async () => {
      if (stopped) return;
      await pollOnce().catch(() => undefined);
      if (stopped) return;
      if (until && Date.now() > until) void stream();
      else pollTimer = setTimeout(tick, POLL_MS);
    };
    void tick();
  }

  async function stream() {
    if (stopped) return;
    if (!config.features.stream) return poll();
    const { createParser } = await import(config.vendor['eventsource-parser']);
    if (stopped) return; // signed out while the parser loaded: no request without the token
    controller = new AbortController();
    const headers = { accept: 'text/event-stream', ...authHeaders() };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    let response;
    try {
      response = await fetch('/v1/summaries/stream', { headers, cache: 'no-store', signal: controller.signal });
    } catch {
      if (!stopped) poll(Date.now() + RETRY_STREAM_MS);
      return;
    }
    if (!response.ok || !response.body) {
      await response.text().catch(() => '');
      // 404: no stream on this server; 429/503: too many open streams: poll, and try again later.
      if (!stopped) poll(response.status === 404 ? undefined : Date.now() + RETRY_STREAM_MS);
      return;
    }
    onMode('stream');
    const parser = createParser({
      onEvent(event) {
        if (event.id) lastEventId = event.id;
        if (event.event !== 'summary' || stopped) return;
        const data = JSON.parse(event.data);
        onSummary({ national: data.national, states: data.states });
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // cut: reconnect below
    }
    if (!stopped) setTimeout(() => void stream(), POLL_MS);
  }

  // The first picture at once, whatever comes next (the stream may wait for a change before its first event).
  void pollOnce()
    .catch(() => undefined)
    .finally(() => void stream());
  return () => {
    stopped = true;
    controller?.abort();
    clearTimeout(pollTimer);
  };
}
