// The open situation events, kept current from the live feed (/cityhub/v1/events/stream):
// the board, the map's events layer and the alerts all read this one store.
import { api } from './api.js';
import { isNewCritical, isOpen } from './model.js';
import { openStream } from './sse.js';

export class EventStore {
  constructor({ onCritical } = {}) {
    this.events = new Map();
    this.listeners = new Set();
    this.onCritical = onCritical;
    this.loaded = false;
    this.pending = [];
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  list() {
    return [...this.events.values()];
  }

  /** Follow the feed, then read the open events (changes meanwhile are applied after). */
  start() {
    let opened = false;
    this.stream = openStream('/cityhub/v1/events/stream', {
      onEvent: (kind, frame) => {
        if (kind !== 'cityevent') return;
        if (this.pending) this.pending.push(frame);
        else this.apply(frame);
      },
      onOpen: () => {
        if (opened) this.load(); // reconnected: re-read what the stream may have missed
        opened = true;
      },
    });
    return this.load();
  }

  stop() {
    this.stream?.close();
  }

  async load() {
    const list = await api('/cityhub/v1/events?state=open&limit=1000');
    this.events = new Map(list.map((e) => [e.id, e]));
    this.loaded = true;
    const pending = this.pending || [];
    this.pending = null;
    for (const frame of pending) this.apply(frame, false);
    this.emit({ kind: 'reset' });
  }

  apply(frame, alert = true) {
    const { op, ...event } = frame;
    const before = this.events.get(event.id);
    if (op === 'delete' || !isOpen(event)) {
      if (!before) return;
      this.events.delete(event.id);
      this.emit({ kind: 'remove', event, before });
      return;
    }
    this.events.set(event.id, event);
    this.emit({ kind: before ? 'update' : 'new', event, before });
    if (alert && isNewCritical(before, event)) this.onCritical?.(event);
  }
}
