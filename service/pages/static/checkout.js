// The checkout widget: one batch call quotes every shipping option; windows in the shopper's
// language and time zone.
import { api, browserTimeZone, formatWindow, money, setupKey } from "./api.js";

const key = setupKey();
const $ = (id) => document.getElementById(id);
const MODEL = "deliveries";
let carrier = null;

function locale() {
  return $("locale").value || navigator.language;
}

function zone() {
  return $("timezone").value.trim() || browserTimeZone();
}

async function start() {
  try {
    const model = await api(key(), "GET", `/v1/models/${MODEL}`);
    const features = Object.fromEntries(model.features.map((f) => [f.name, f]));
    const regions = features.region ? features.region.values : [];
    $("region").replaceChildren(...regions.map((r) => new Option(r, r)));
    carrier = features.carrier && features.carrier.values.length ? features.carrier.values[0] : null;
    $("timezone").placeholder = browserTimeZone();
    $("shipping-error").hidden = true;
    await quoteOptions();
  } catch (error) {
    showError(error);
  }
}

async function quoteOptions() {
  const options = [...document.querySelectorAll("#shipping .option")];
  const items = options.map((option) => ({
    model: MODEL,
    id: option.dataset.service,
    features: {
      service: option.dataset.service,
      region: $("region").value || null,
      ...(carrier ? { carrier } : {}),
      weight_kg: 1.2,
    },
    locale: locale(),
    timezone: zone(),
  }));
  $("shipping").setAttribute("aria-busy", "true");
  const began = performance.now();
  try {
    const answer = await api(key(), "POST", "/v1/quotes/batch", { items });
    $("took").textContent = `${Math.round(performance.now() - began)} ms`;
    answer.items.forEach((result, i) => render(options[i], result));
    $("shipping-error").hidden = true;
  } catch (error) {
    showError(error);
  } finally {
    $("shipping").setAttribute("aria-busy", "false");
  }
  renderPrices();
}

function render(option, result) {
  const windowText = option.querySelector(".window");
  const note = option.querySelector(".note");
  if (!result.quote) {
    windowText.textContent = "no estimate";
    note.textContent = result.error.detail;
    return;
  }
  const q = result.quote;
  option.dir = q.text_direction || "auto";
  // Delivery windows are calendar dates in the shopper's time zone: format them as dates (a
  // date-only string is midnight UTC to Date); a window with times is a pair of instants.
  const dates = !q.window_start.includes("T");
  windowText.textContent = formatWindow(q.window_start, q.window_end, locale(), dates ? "UTC" : zone());
  windowText.dataset.start = q.window_start;
  windowText.dataset.end = q.window_end;
  const customerNote = q.risk_notes.find((n) => n.customer_text);
  note.textContent = customerNote ? customerNote.customer_text : "";
}

function renderPrices() {
  const lang = locale();
  document.documentElement.lang = lang;
  for (const cell of document.querySelectorAll("[data-price]")) {
    const price = Number(cell.dataset.price);
    cell.textContent = cell.classList.contains("price") && price === 0 ? "free" : money(price, lang);
  }
  const items = [...document.querySelectorAll("#cart [data-price]")].reduce((s, c) => s + Number(c.dataset.price), 0);
  const chosen = document.querySelector("#shipping input:checked").closest(".option").querySelector(".price");
  $("total").textContent = money(items + Number(chosen.dataset.price), lang);
}

function showError(error) {
  $("shipping-error").textContent = error.message;
  $("shipping-error").hidden = false;
}

$("region").addEventListener("change", quoteOptions);
$("locale").addEventListener("change", quoteOptions);
$("timezone").addEventListener("change", quoteOptions);
$("api-key").addEventListener("change", start);
$("shipping").addEventListener("change", renderPrices);
start();
