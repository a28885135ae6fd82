// Normalisation of daemon output for differential tests: what legitimately
// differs between two daemons given the same request (media ports, ICE
// credentials, candidate foundations, loop-protect ids, timestamps, call-ids)
// is replaced by symbols, so that everything else can be compared verbatim.
//
// Symbols keep relations: ports become P1, P2, … in order of appearance, and a
// port one above an already named base port becomes "Pk+1", so an a=rtcp that
// is "the RTP port + 1" on one daemon must be so on the other. Ports are
// counted per address family (a daemon has one port pool per local address).
// Random strings become <ufrag#1 len=8>, so their length and which ones are
// equal are kept.
//
// One Normalizer covers one scenario on one daemon (one call, possibly several
// requests): the same port seen in an SDP and in `query` gets the same symbol.

export interface NormalizerOptions {
  /** The daemon's media port range: only ports inside it are symbolised. */
  portMin: number;
  portMax: number;
  /** Strings that stay literal when they appear as ICE credentials or foundations (the peer's own values). */
  literals?: Iterable<string>;
  /** Call-ids of the scenario on this daemon, replaced by <call-id#n>. */
  callIds?: string[];
}

/** Keys of `query` output whose values are wall-clock times. */
const TIME_KEYS = /^(created|created_us|last signal|last redis update|last .*packet.*|.*timestamp.*)$/i;
/** Keys of `query` output whose values are port numbers. */
const PORT_KEYS = /^(local port|port)$/;

/** Address family of a port: '4' or '6'. */
export type Family = '4' | '6';

function familyOf(address: string | undefined | null): Family {
  return address && address.includes(':') ? '6' : '4';
}

export class Normalizer {
  private readonly ports = new Map<string, string>();
  private readonly bases = new Set<string>();
  private nextPort = 1;
  private readonly symbols = new Map<string, Map<string, string>>();
  private readonly literals: Set<string>;
  private readonly callIds: string[];

  constructor(private readonly opts: NormalizerOptions) {
    this.literals = new Set(opts.literals ?? []);
    this.callIds = opts.callIds ?? [];
  }

  /** Every daemon port symbolised so far, with its family and symbol. */
  seenPorts(): Array<{ family: Family; port: number; name: string }> {
    return [...this.ports.entries()].map(([key, name]) => {
      const [family, port] = key.split('/');
      return { family: family as Family, port: Number(port), name };
    });
  }

  /** Marks every token of a request body as literal (the peer's own credentials stay visible). */
  addLiterals(text: string): void {
    for (const t of text.split(/[\s:]+/)) if (t) this.literals.add(t);
  }

  /**
   * A port's symbol, or the port itself when it is not one of the daemon's.
   * Ports are counted per address family: a daemon keeps one port pool per
   * local address, so the same number on 127.0.0.1 and on ::1 is chance.
   */
  port(p: number, family: Family = '4'): string {
    if (!Number.isInteger(p) || p < this.opts.portMin || p > this.opts.portMax) return String(p);
    const key = `${family}/${p}`;
    const known = this.ports.get(key);
    if (known) return known;
    let name: string;
    const below = `${family}/${p - 1}`;
    if (this.bases.has(below)) {
      name = `${this.ports.get(below)}+1`;
    } else {
      name = `P${this.nextPort++}`;
      this.bases.add(key);
    }
    this.ports.set(key, name);
    return name;
  }

  private portText(t: string, family: Family): string {
    return /^\d+$/.test(t) ? this.port(Number(t), family) : t;
  }

  /** A symbol for a random string of the given kind, unless it is a literal from the request. */
  symbol(kind: string, value: string, always = false): string {
    if (!always && this.literals.has(value)) return value;
    let m = this.symbols.get(kind);
    if (!m) {
      m = new Map();
      this.symbols.set(kind, m);
    }
    let s = m.get(value);
    if (!s) {
      s = `<${kind}#${m.size + 1} len=${value.length}>`;
      m.set(value, s);
    }
    return s;
  }

  private callId(s: string): string {
    const i = this.callIds.indexOf(s);
    return i < 0 ? s : `<call-id#${i + 1}>`;
  }

  /**
   * An SDP body as a list of lines with ports, ICE credentials, foundations and
   * loop-protect ids symbolised. A line ending in a bare LF is marked with
   * ' <LF>', and a missing final line ending shows as a line of its own, so
   * that line endings are compared too.
   */
  sdp(body: string): string[] {
    const raw = body.split('\n');
    const last = raw.pop() ?? '';
    const lines: string[] = [];
    const endings: string[] = [];
    for (const l of raw) {
      if (l.endsWith('\r')) {
        lines.push(l.slice(0, -1));
        endings.push('');
      } else {
        lines.push(l);
        endings.push(' <LF>');
      }
    }
    if (last !== '') {
      lines.push(last);
      endings.push(' <no line ending>');
    }
    // The family of each line's media: its m= section's c=, else the session's.
    const conn = (l: string): string | null => (/^c=IN IP[46] (\S+)/.exec(l)?.[1] ?? null);
    let session: Family = '4';
    const families: Family[] = new Array<Family>(lines.length).fill('4');
    let start = -1;
    const closeSection = (end: number): void => {
      let fam = session;
      for (let k = start + 1; k < end; k++) {
        const c = conn(lines[k]);
        if (c) fam = familyOf(c);
      }
      for (let k = Math.max(start, 0); k < end; k++) families[k] = start < 0 ? session : fam;
    };
    lines.forEach((l, k) => {
      if (l.startsWith('m=')) {
        closeSection(k);
        start = k;
      } else if (start < 0) {
        const c = conn(l);
        if (c) session = familyOf(c);
      }
    });
    closeSection(lines.length);
    return lines.map((l, k) => this.sdpLine(l, families[k]) + endings[k]);
  }

  private sdpLine(line: string, family: Family): string {
    let m: RegExpExecArray | null;
    if ((m = /^m=(\S+) (\d+)(\/\d+)? (.*)$/.exec(line))) {
      return `m=${m[1]} ${this.portText(m[2], family)}${m[3] ?? ''} ${m[4]}`;
    }
    if ((m = /^a=rtcp:(\d+)(.*)$/.exec(line))) {
      const addr = /^ IN IP[46] (\S+)/.exec(m[2])?.[1];
      return `a=rtcp:${this.portText(m[1], addr ? familyOf(addr) : family)}${m[2]}`;
    }
    if ((m = /^a=ice-ufrag:(.*)$/.exec(line))) return `a=ice-ufrag:${this.symbol('ufrag', m[1])}`;
    if ((m = /^a=ice-pwd:(.*)$/.exec(line))) return `a=ice-pwd:${this.symbol('pwd', m[1])}`;
    if ((m = /^a=rtpengine:(.*)$/.exec(line))) return `a=rtpengine:${this.symbol('loop-id', m[1], true)}`;
    if ((m = /^a=candidate:(.*)$/.exec(line))) {
      const f = m[1].split(' ');
      if (f.length >= 6) {
        f[0] = this.symbol('foundation', f[0]);
        f[5] = this.portText(f[5], familyOf(f[4]));
        const rp = f.indexOf('rport');
        const ra = f.indexOf('raddr');
        if (rp >= 0 && rp + 1 < f.length) f[rp + 1] = this.portText(f[rp + 1], familyOf(ra >= 0 ? f[ra + 1] : f[4]));
      }
      return `a=candidate:${f.join(' ')}`;
    }
    if ((m = /^a=remote-candidates:(.*)$/.exec(line))) {
      const f = m[1].split(' ');
      for (let i = 2; i < f.length; i += 3) f[i] = this.portText(f[i], familyOf(f[i - 1]));
      return `a=remote-candidates:${f.join(' ')}`;
    }
    return line;
  }

  /**
   * Any decoded ng value (a reply, `query` output): times become '<time>',
   * ports in the daemon's range become symbols, call-ids become <call-id#n>.
   * Dictionary keys are visited in sorted order, so symbols do not depend on
   * the order a daemon writes its keys in.
   */
  value(v: unknown, key?: string, family: Family = '4'): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x, key, family));
    if (Buffer.isBuffer(v)) return this.value(v.toString('utf8'), key, family);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const fam = o.family === 'IPv6' || familyOf(String(o['local address'] ?? o.address ?? '')) === '6' ? '6' : '4';
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) {
        out[this.callId(k)] = this.value(o[k], k, fam);
      }
      return out;
    }
    if (typeof v === 'number' && key !== undefined) {
      if (TIME_KEYS.test(key)) return '<time>';
      if (PORT_KEYS.test(key)) return this.port(v, family);
    }
    if (typeof v === 'string') return this.callId(v);
    return v;
  }
}

/**
 * A value as one line per leaf, `path = value` (dictionary keys sorted; lists
 * of scalars kept on one line), so that a line diff names what differs.
 */
export function flatten(v: unknown, prefix = ''): string[] {
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object' || Buffer.isBuffer(x))) {
      return [`${prefix || '.'} = ${JSON.stringify(v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x)))}`];
    }
    return v.flatMap((x, i) => flatten(x, `${prefix}[${i}]`));
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return [`${prefix || '.'} = {}`];
    return keys.flatMap((k) => flatten((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return [`${prefix || '.'} = ${JSON.stringify(v)}`];
}

/**
 * A minimal line diff (longest common subsequence): '-' lines only in `a`
 * (the reference), '+' lines only in `b` (ours), `context` equal lines
 * around each change. Empty string when equal.
 */
export function lineDiff(a: string[], b: string[], context = 2, labels = ['reference', 'ours']): string {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: Array<{ op: ' ' | '-' | '+'; text: string }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      ops.push({ op: '+', text: b[j++] });
    } else {
      ops.push({ op: '-', text: a[i++] });
    }
  }
  if (ops.every((o) => o.op === ' ')) return '';
  const keep = new Array<boolean>(ops.length).fill(false);
  ops.forEach((o, k) => {
    if (o.op === ' ') return;
    for (let c = Math.max(0, k - context); c <= Math.min(ops.length - 1, k + context); c++) keep[c] = true;
  });
  const out: string[] = [`--- ${labels[0]}`, `+++ ${labels[1]}`];
  let skipped = false;
  ops.forEach((o, k) => {
    if (!keep[k]) {
      if (!skipped) out.push('  …');
      skipped = true;
      return;
    }
    skipped = false;
    out.push(`${o.op} ${o.text}`);
  });
  return out.join('\n');
}
