const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2 });
const bytesFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/**
 * Money as people read it, from integer micro-dollars (1 USD = 1,000,000): "$0.00" for nothing,
 * "< $0.01" for a real but tiny amount (never rounded down to a misleading zero), else cents.
 */
export function formatMicroDollars(micros: number): string {
  if (!Number.isFinite(micros) || micros <= 0) return usd.format(0);
  if (micros < 10_000) return "< $0.01";
  return usd.format(micros / 1_000_000);
}

/** 1,234 → "1.2 KB". Binary units, as editors and file managers show them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${bytesFormat.format(value)} ${units[unit]}`;
}

/** "1 file", "2 files". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString("en-US")} ${count === 1 ? one : many}`;
}
