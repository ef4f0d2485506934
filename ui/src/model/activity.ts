// The sync activity view's arithmetic: a sparkline's points from rates, and
// "3 s ago"-style ages. Pure, so it is unit-tested.
import type { ActivityRate } from "../backend/types";

/** SVG polyline points for `values` in a `width`×`height` box (0 at the bottom; scaled to the largest value). */
export function sparkline(values: readonly number[], width: number, height: number): string {
  if (values.length === 0) return "";
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values.map((v, i) => `${(i * step).toFixed(1)},${(height - (Math.max(0, v) / max) * height).toFixed(1)}`).join(" ");
}

/** The latest rate, or zero. */
export function latest(rates: readonly ActivityRate[]): ActivityRate {
  return rates[rates.length - 1] ?? { at_ms: 0, changes_per_s: 0, bytes_per_s: 0 };
}

/** "just now", "12 s ago", "3 min ago", "never". */
export function ago(ms: number | null | undefined, now: number): string {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}
