// The alert on a new critical (grade 1) event: a banner that stays until dismissed, a red
// frame around the page, the title blinking, and a tone (Web Audio, no sound file) when sound
// is on. Browsers allow sound only after the user has interacted with the page: the login,
// a click or a key press unlocks it.
import { fill, h } from './dom.js';
import { fmtTime } from './format.js';
import { t } from './i18n.js';

const MAX_BANNERS = 4;

export class Alerts {
  constructor(region, { onOpen } = {}) {
    this.region = region;
    this.onOpen = onOpen;
    this.count = 0; // alerts raised since the page loaded (automation reads it)
    this.tones = 0; // tones played
    this.sound = localStorage.getItem('cityhub.sound') !== 'off';
    this.audio = null;
    this.blink = null;
    const unlock = () => this.unlockAudio();
    window.addEventListener('pointerdown', unlock, { once: true, capture: true });
    window.addEventListener('keydown', unlock, { once: true, capture: true });
  }

  unlockAudio() {
    if (!this.audio && window.AudioContext) this.audio = new AudioContext();
    if (this.audio?.state === 'suspended') this.audio.resume().catch(() => {});
  }

  setSound(on) {
    this.sound = on;
    localStorage.setItem('cityhub.sound', on ? 'on' : 'off');
    if (on) this.unlockAudio();
  }

  critical(event) {
    this.count += 1;
    const banner = h('div', { class: 'alert-banner', role: 'alert', dataset: { event: event.id } },
      h('strong', null, t('alert.critical')), ' ',
      h('span', null, event.eventName || event.eventCode || event.id), ' · ',
      h('span', null, event.placeName || ''), ' · ',
      h('time', null, fmtTime(event.occurredAt, false)), ' ',
      h('button', { type: 'button', class: 'primary', onclick: () => { this.dismiss(banner); this.onOpen?.(event.id); } }, t('alert.view')),
      h('button', { type: 'button', onclick: () => this.dismiss(banner) }, t('alert.dismiss')));
    this.region.prepend(banner);
    while (this.region.children.length > MAX_BANNERS) this.region.lastElementChild.remove();
    document.body.classList.add('alerting');
    this.startBlink();
    this.tone();
  }

  dismiss(banner) {
    banner.remove();
    if (!this.region.children.length) {
      document.body.classList.remove('alerting');
      this.stopBlink();
    }
  }

  clear() {
    fill(this.region);
    document.body.classList.remove('alerting');
    this.stopBlink();
  }

  startBlink() {
    if (this.blink) return;
    const title = document.title;
    let on = false;
    this.blink = setInterval(() => {
      on = !on;
      document.title = on ? `⚠ ${t('alert.title')}` : title;
    }, 1000);
    this.blinkTitle = title;
  }

  stopBlink() {
    clearInterval(this.blink);
    this.blink = null;
    if (this.blinkTitle) document.title = this.blinkTitle;
  }

  /** Three two-tone beeps. */
  tone() {
    if (!this.sound) return;
    this.unlockAudio();
    const ctx = this.audio;
    if (!ctx) return;
    const start = ctx.currentTime + 0.05;
    for (let i = 0; i < 3; i++) {
      for (const [offset, freq] of [[0, 880], [0.18, 660]]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'square';
        osc.frequency.value = freq;
        const at = start + i * 0.5 + offset;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(at);
        osc.stop(at + 0.17);
      }
    }
    this.tones += 1;
  }
}
