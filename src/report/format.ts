/**
 * Text formatting shared by the terminal and the HTML report, so both say the same thing: numbers,
 * bytes (binary units), percentages, durations; escaping for HTML.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and double- or single-quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Makes a log string safe to show: control characters (a TLS ClientHello logged as a request,
 * escape sequences from scanners) become `\xhh`, and very long values are cut.
 */
export function printable(text: string, max = 160): string {
  // eslint-disable-next-line no-control-regex
  const shown = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}

/** 1234567 → "1,234,567"; non-integers get up to `digits` decimals. */
export function formatNumber(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: Number.isInteger(n) ? 0 : digits });
}

/** Bytes in binary units: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A percentage 0..100 → "81.4 %"; tiny ones show as "< 0.1 %". */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return '–';
  if (percent > 0 && percent < 0.1) return '< 0.1 %';
  return `${percent.toFixed(1)} %`;
}

/** A share 0..1 → "12.3 %"; tiny shares show as "< 0.1 %". */
export function formatShare(share: number): string {
  return formatPercent(share * 100);
}

/** Milliseconds → "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Microseconds → "850 µs", "12.3 ms", "1.20 s". */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** Formats a value of a unit the result names (bytes, µs, %, or a plain count). */
export function formatUnit(value: number, unit: string): string {
  if (unit === 'bytes') return formatBytes(value);
  if (unit === 'µs' || unit === 'us') return formatMicros(value);
  if (unit === '%') return formatPercent(value);
  return formatNumber(value);
}

/** Serialises data for a `<script type="application/json">` block: `<`, U+2028/9 escaped. */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
