// Audio for codec tests: tones generated in the test, linear PCM in and out of
// RTP (L16, big-endian), and measurements (Goertzel tone level, RMS, DC); WAV
// files of a tone.

import * as fs from 'fs';

/** n samples of a sine at freq Hz, starting at sample index start. */
export function sine(rate: number, freq: number, start: number, n: number, amplitude: number, channels = 1): Int16Array {
  const out = new Int16Array(n * channels);
  for (let i = 0; i < n; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * freq * (start + i)) / rate));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/** Interleaved samples as an L16 payload (network byte order). */
export function toL16(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) b.writeInt16BE(samples[i], 2 * i);
  return b;
}

export function fromL16(payload: Buffer): Int16Array {
  const out = new Int16Array(payload.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = payload.readInt16BE(2 * i);
  return out;
}

/** One channel of interleaved samples. */
export function channel(samples: Int16Array, channels: number, c: number): Int16Array {
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + c];
  return out;
}

/** Amplitude of the component at freq Hz (Goertzel), in sample units. */
export function toneAmplitude(x: ArrayLike<number>, rate: number, freq: number): number {
  const n = x.length;
  const k = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / n;
}

export function rms(x: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i] * x[i];
  return x.length ? Math.sqrt(e / x.length) : 0;
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return x.length ? s / x.length : 0;
}

export function db(ratio: number): number {
  return 20 * Math.log10(ratio);
}

/** The samples of several blocks, one after the other. */
export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * A WAV file of a sine tone (amplitude 8000): 16-bit integer samples, or 32-bit
 * float (format 3); the same tone on every channel.
 */
export function wavTone(rate: number, freq: number, ms: number, o: { channels?: number; float?: boolean } = {}): Buffer {
  const channels = o.channels ?? 1;
  const bytes = o.float ? 4 : 2;
  const pcm = sine(rate, freq, 0, (rate * ms) / 1000, 8000);
  const data = Buffer.alloc(pcm.length * bytes * channels);
  pcm.forEach((s, i) => {
    for (let c = 0; c < channels; c++) {
      const at = (i * channels + c) * bytes;
      if (o.float) data.writeFloatLE(s / 32768, at);
      else data.writeInt16LE(s, at);
    }
  });
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(o.float ? 3 : 1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * bytes * channels, 28);
  h.writeUInt16LE(bytes * channels, 32);
  h.writeUInt16LE(bytes * 8, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Writes wavTone() to a file. */
export function writeWav(file: string, rate: number, freq: number, ms: number, o: { channels?: number; float?: boolean } = {}): void {
  fs.writeFileSync(file, wavTone(rate, freq, ms, o));
}
