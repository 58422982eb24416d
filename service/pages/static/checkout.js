// The checkout widget: one batch call quotes every shipping option; windows in the shopper's
// language and time zone.
import { api, browserTimeZone, formatWindow, money, setupKey } from "./api.js";

// Which model to quote and which of its features are the shipping option and the destination,
// from the address: /checkout?model=shop&option=shipping&to=country. Without them: the first
// delivery model served, its first segment column as the option, and a feature named like a
// destination (country, region, zone). A shop's own model gets one option per value it learnt.
const params = new URLSearchParams(location.search);
const key = setupKey();
const $ = (id) => document.getElementById(id);
let MODEL, OPTION, DESTINATION;
let known = {}; // what the shop knows of this cart beyond option and destination

function locale() {
  return $("locale").value || navigator.language;
}

function zone() {
  return $("timezone").value.trim() || browserTimeZone();
}

async function chooseModel() {
  if (params.get("model")) return api(key(), "GET", `/v1/models/${encodeURIComponent(params.get("model"))}`);
  const { models } = await api(key(), "GET", "/v1/models");
  const model = models.find((m) => m.kind === "delivery") || models[0];
  if (!model) throw new Error("no model is served");
  return model;
}

// The cart's own facts (the shop's carrier, the parcel's weight: the table's data-features),
// then the address's (&carrier=PostNL&weight_kg=2.5), each only where the model has that
// feature. Any other is left unknown, which the engine answers from what it knows: pinning it
// to the model's first value gave a tester's shop its slowest carrier for every option, a day
// too long.
function cartFacts(features) {
  const given = { ...JSON.parse($("cart").dataset.features || "{}"), ...Object.fromEntries(params) };
  const facts = {};
  for (const f of features) {
    if (f.name in given && ![OPTION, DESTINATION].includes(f.name)) {
      facts[f.name] = f.kind === "numeric" ? Number(given[f.name]) : String(given[f.name]);
    }
  }
  return facts;
}

async function start() {
  try {
    const model = await chooseModel();
    MODEL = model.name;
    const categorical = model.features.filter((f) => f.kind === "categorical");
    const named = (pattern) => categorical.find((f) => pattern.test(f.name));
    OPTION = params.get("option") || model.segments[0] || (categorical[0] || {}).name;
    DESTINATION = params.get("to") || (named(/country|region|destination|zone/i) || {}).name;
    const features = Object.fromEntries(model.features.map((f) => [f.name, f]));
    const regions = features[DESTINATION] ? features[DESTINATION].values : [];
    $("region").replaceChildren(...regions.map((r) => new Option(r, r)));
    const offered = features[OPTION] ? features[OPTION].values : [];
    const shown = [...document.querySelectorAll("#shipping .option")].map((o) => o.dataset.service);
    if (offered.length && !shown.every((s) => offered.includes(s))) showOptions(offered);
    known = cartFacts(model.features);
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
      ...known,
      [OPTION]: option.dataset.service,
      ...(regionsShown() ? { [DESTINATION]: $("region").value } : {}),
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

function regionsShown() {
  return $("region").options.length > 0;
}

// One shipping option per value of the model's option feature, free of charge (the demo's
// three options and prices are the deliveries model's).
function showOptions(values) {
  const options = values.map((value, i) => {
    const label = document.createElement("label");
    label.className = "option";
    label.dataset.service = value;
    const input = Object.assign(document.createElement("input"), { type: "radio", name: "ship", value, checked: i === 0 });
    const span = (cls, text = "") => Object.assign(document.createElement("span"), { className: cls, textContent: text });
    const price = span("price");
    price.dataset.price = "0";
    label.append(input, span("name", value), " ", price, " ", span("window", "…"), " ", span("note"));
    return label;
  });
  $("shipping").replaceChildren($("shipping").querySelector("legend"), ...options);
}

function render(option, result) {
  const windowText = option.querySelector(".window");
  const note = option.querySelector(".note");
  if (!result.quote) {
    windowText.textContent = "–";
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

// Prices are in the cart's currency (its data-currency, which the shop's page sets with the
// amounts), said in the shopper's language: a Chilean shop's shoppers read "EUR 0,00" when
// euros were fixed.
function currency() {
  return ($("cart").dataset.currency || "EUR").toUpperCase();
}

function renderPrices() {
  const lang = locale();
  document.documentElement.lang = lang;
  for (const cell of document.querySelectorAll("[data-price]")) {
    const price = Number(cell.dataset.price);
    cell.textContent = money(price, lang, currency());
  }
  const items = [...document.querySelectorAll("#cart [data-price]")].reduce((s, c) => s + Number(c.dataset.price), 0);
  const chosen = document.querySelector("#shipping input:checked").closest(".option").querySelector(".price");
  $("total").textContent = money(items + Number(chosen.dataset.price), lang, currency());
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
