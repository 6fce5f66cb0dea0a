// Server-sent events over fetch (EventSource cannot send the tenant header): parses the
// stream, reconnects with a growing pause, and tells the caller when it (re)connects so it
// can reload what it may have missed.
import { headers } from './api.js';

export function openStream(path, { onEvent, onOpen, onUnauthorized }) {
  let stopped = false;
  let controller = null;
  let pause = 500;

  async function readOnce() {
    controller = new AbortController();
    const response = await fetch(path, {
      credentials: 'same-origin',
      headers: headers('GET', { Accept: 'text/event-stream' }),
      signal: controller.signal,
      cache: 'no-store',
    });
    if (response.status === 401) {
      stopped = true;
      onUnauthorized?.();
      return;
    }
    if (!response.ok) throw new Error(`stream ${path}: HTTP ${response.status}`);
    pause = 500;
    onOpen?.();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) kind = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trimStart();
        }
        if (!data) continue;
        if (kind === 'overflow') {
          controller.abort(); // fell behind: reconnect and reload
          return;
        }
        try {
          onEvent(kind, JSON.parse(data));
        } catch (err) {
          console.warn('cityhub: bad frame on', path, err);
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await readOnce();
      } catch {
        // dropped or refused: try again after a pause
      }
      if (stopped) break;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 10000);
    }
  })();

  return {
    close() {
      stopped = true;
      controller?.abort();
    },
  };
}
