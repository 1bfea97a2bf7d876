/**
 * The panels' side of the live updates (liveEvents.ts): the one stream of this JupyterLab, and a hook that tells a
 * panel when an event about what it shows arrived.
 */
import { useEffect, useRef, useState } from 'react';

import { eventReader, requestResponse } from './client';
import { LiveEvents } from './liveEvents';

/** Event type prefixes of each panel's objects (docs/events.md). */
export const LIVE_TYPES = {
  runs: ['mlp.experiments.'],
  pipelines: ['mlp.pipelines.'],
  models: ['mlp.registry.'],
  deployments: ['mlp.serving.', 'mlp.registry.alias.'],
  monitoring: ['mlp.monitoring.', 'mlp.serving.']
} as const;

let shared: LiveEvents | null = null;

/** The JupyterLab's one live-updates stream (opened with the first subscriber). */
export function liveEvents(): LiveEvents {
  if (!shared) {
    shared = new LiveEvents({
      open: async (signal, lastEventId) => {
        const headers: Record<string, string> = { Accept: 'text/event-stream' };
        if (lastEventId) {
          headers['Last-Event-ID'] = lastEventId;
        }
        return eventReader(await requestResponse('events/stream', { signal, headers, cache: 'no-store' }));
      }
    });
  }
  return shared;
}

/**
 * A counter that goes up (at most every `debounceMs`) when an event of `types` about project `slug` arrives, or
 * when the stream could not resume: add it to what makes the panel reload. Subscribed while the panel is mounted.
 */
export function useLiveToken(slug: string, types: readonly string[], debounceMs = 250): number {
  const [token, setToken] = useState(0);
  const key = types.join(',');
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (!slug) {
      return;
    }
    const unsubscribe = liveEvents().subscribe({ project: slug, types: key.split(',') }, () => {
      if (timer.current === null) {
        timer.current = setTimeout(() => {
          timer.current = null;
          setToken(t => t + 1);
        }, debounceMs);
      }
    });
    return () => {
      unsubscribe();
      if (timer.current !== null) {
        clearTimeout(timer.current);
        timer.current = null;
      }
    };
  }, [slug, key, debounceMs]);
  return token;
}
