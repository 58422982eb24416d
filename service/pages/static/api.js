// Shared by the pages: the API key, calls that turn problem details into readable errors,
// and dates in the customer's language and time zone (Intl, no library).

const KEY = "eta-api-key";

export function setupKey() {
  const input = document.getElementById("api-key");
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(null, "", location.pathname + location.search); // the key out of the address bar
  }
  input.value = sessionStorage.getItem(KEY) || "";
  input.addEventListener("change", () => sessionStorage.setItem(KEY, input.value.trim()));
  return () => input.value.trim();
}

export class ApiError extends Error {
  constructor(problem) {
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`);
    super(fields.length ? fields.join("; ") : problem.detail || problem.title);
    this.problem = problem;
  }
}

export async function api(key, method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "X-API-Key": key, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({ title: response.statusText }));
  if (!response.ok) throw new ApiError({ status: response.status, ...data });
  return data;
}

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function formatInstant(iso, locale, timeZone, withTime = true) {
  if (!iso) return "";
  const options = { weekday: "short", day: "numeric", month: "short", timeZone };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return new Intl.DateTimeFormat(locale || undefined, options).format(new Date(iso));
}

// A window of dates ("2026-12-07") is said in days; one of instants with its times too: a
// grocery's 25-minute delivery read "Mon, Dec 7" for a window of 14:33–14:56.
export function formatWindow(start, end, locale, timeZone) {
  const times = start.includes("T") ? { hour: "numeric", minute: "2-digit" } : {};
  const format = new Intl.DateTimeFormat(locale || undefined, {
    weekday: "short", day: "numeric", month: "short", ...times, timeZone,
  });
  const a = new Date(start), b = new Date(end);
  return format.formatRange ? format.formatRange(a, b) : `${format.format(a)} – ${format.format(b)}`;
}

// The shop's currency in the shopper's locale: a Chilean shop's prices are pesos whoever reads
// them. A code the browser does not know ('PESO') is written after the amount, not thrown.
export function money(amount, locale, currency) {
  try {
    return new Intl.NumberFormat(locale || undefined, { style: "currency", currency }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale || undefined).format(amount)} ${currency}`;
  }
}
