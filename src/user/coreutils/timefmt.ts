/** Calendar formatting of virtual-clock nanoseconds (UTC; the model has no time zones). */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Half a Gregorian year, ls's threshold for showing the year instead of the time. */
const SIX_MONTHS_S = 31556952 / 2;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** ls -l's date column: `Mon DD HH:MM` when recent, `Mon DD  YYYY` otherwise. */
export function lsDate(ns: number, nowNs: number): string {
  const d = new Date(Math.floor(ns / 1e6));
  const head = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')}`;
  const recent = ns > nowNs - SIX_MONTHS_S * 1e9 && ns <= nowNs + 1e9;
  return recent ? `${head} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : `${head}  ${d.getUTCFullYear()}`;
}

/** stat's %x/%y/%z: `2024-01-01 00:00:00.000000000 +0000`. */
export function statDate(ns: number): string {
  const s = Math.floor(ns / 1e9);
  const frac = ns - s * 1e9;
  const d = new Date(s * 1000);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.round(frac), 9)} +0000`
  );
}
