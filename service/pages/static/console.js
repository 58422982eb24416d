// The agent console: quote a ticket, read its risks, copy the customer message, re-quote.
import { api, browserTimeZone, formatInstant, setupKey } from "./api.js";

const key = setupKey();
const $ = (id) => document.getElementById(id);
const OPEN = "eta-open-tickets";
let models = {};

async function loadModels() {
  try {
    const { models: list } = await api(key(), "GET", "/v1/models");
    models = Object.fromEntries(list.map((m) => [m.name, m]));
    const select = $("model");
    select.replaceChildren();
    const ordered = [...list].sort((a, b) => (a.kind === "resolution" ? -1 : 1) - (b.kind === "resolution" ? -1 : 1));
    for (const m of ordered) select.add(new Option(`${m.name} (${m.kind})`, m.name));
    renderFeatures();
    $("form-error").hidden = true;
  } catch (error) {
    showError(error);
  }
}

function renderFeatures() {
  const model = models[$("model").value];
  const box = $("features");
  box.replaceChildren();
  if (!model) return;
  $("timezone").placeholder = model.timezone;
  for (const feature of model.features) {
    const label = document.createElement("label");
    label.textContent = feature.name.replaceAll("_", " ") + " ";
    let input;
    if (feature.kind === "categorical") {
      input = document.createElement("select");
      input.add(new Option("(unknown)", ""));
      for (const value of feature.values) input.add(new Option(value, value));
    } else {
      input = document.createElement("input");
      input.type = "number";
      input.step = "any";
    }
    input.name = feature.name;
    input.dataset.feature = feature.kind;
    input.id = `feature-${feature.name}`;
    label.append(input);
    box.append(label);
  }
}

function readTicket() {
  const features = {};
  for (const input of $("features").querySelectorAll("[data-feature]")) {
    if (input.value === "") continue;
    features[input.name] = input.dataset.feature === "numeric" ? Number(input.value) : input.value;
  }
  const started = $("started-at").value;
  return {
    model: $("model").value,
    id: $("ticket-id").value.trim() || null,
    features,
    // datetime-local is the agent's local time; send an instant
    started_at: started ? new Date(started).toISOString() : new Date().toISOString(),
    confidence: $("confidence").value ? Number($("confidence").value) : null,
    locale: $("locale").value.trim() || null,
    timezone: $("timezone").value.trim() || browserTimeZone(),
  };
}

async function quote(request) {
  $("form-error").hidden = true;
  try {
    const answer = await api(key(), "POST", "/v1/quotes", request);
    show(answer, request);
    remember(request, answer);
  } catch (error) {
    showError(error);
  }
}

function show(q, request) {
  const locale = q.locale || request.locale;
  const zone = q.timezone || request.timezone;
  $("result").hidden = false;
  $("result").dir = q.text_direction || "auto";
  $("q-id").textContent = q.id ? `· ${q.id}` : "";
  $("q-likely").textContent = formatInstant(q.likely_at, locale, zone);
  $("q-promise").textContent = `${formatInstant(q.promise_at, locale, zone)} (${Math.round(q.confidence * 100)}% sure)`;
  $("q-follow-up").textContent = formatInstant(q.follow_up_at, locale, zone);
  $("q-elapsed").textContent = q.elapsed_hours ? `${q.elapsed_hours.toFixed(1)} clock hours so far` : "new ticket";
  $("q-escalate").hidden = !(q.escalate ?? q.risk_codes.includes("overdue"));
  const risks = $("q-risks");
  risks.replaceChildren();
  const notes = q.risk_notes.length
    ? q.risk_notes.map((n) => `${n.severity}: ${n.agent_text}`)
    : q.risk_codes.map((c) => c.replaceAll("_", " "));
  for (const text of notes.length ? notes : ["none worth mentioning"]) {
    const li = document.createElement("li");
    li.textContent = text;
    risks.append(li);
  }
  $("q-summary").textContent = q.agent_summary || "";
  $("q-message").textContent = q.customer_message;
  $("q-model").textContent = `${q.model} ${q.model_version}`;
  $("q-request").textContent = q.request_id;
  $("copied").hidden = true;
}

function showError(error) {
  $("form-error").textContent = error.message;
  $("form-error").hidden = false;
}

function openTickets() {
  return JSON.parse(sessionStorage.getItem(OPEN) || "[]");
}

function remember(request, answer) {
  const key = request.id || `${request.model}@${request.started_at}`;
  const tickets = openTickets().filter((t) => t.key !== key);
  tickets.unshift({ key, request, promise_at: answer.promise_at, quoted_at: new Date().toISOString() });
  sessionStorage.setItem(OPEN, JSON.stringify(tickets.slice(0, 20)));
  renderOpen();
}

function renderOpen() {
  const body = $("open-tickets").tBodies[0];
  body.replaceChildren();
  for (const ticket of openTickets()) {
    const row = body.insertRow();
    const { request } = ticket;
    row.dataset.ticket = ticket.key;
    for (const text of [
      request.id || "(no id)",
      formatInstant(request.started_at, request.locale, request.timezone),
      formatInstant(ticket.promise_at, request.locale, request.timezone),
      formatInstant(ticket.quoted_at, request.locale, request.timezone),
    ]) row.insertCell().textContent = text;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "requote";
    button.textContent = "Re-quote";
    button.addEventListener("click", () => quote(request));
    row.insertCell().append(button);
  }
}

$("model").addEventListener("change", renderFeatures);
$("api-key").addEventListener("change", loadModels);
$("ticket").addEventListener("submit", (event) => {
  event.preventDefault();
  quote(readTicket());
});
$("copy-message").addEventListener("click", async () => {
  await navigator.clipboard.writeText($("q-message").textContent);
  $("copied").hidden = false;
});
$("locale").placeholder = navigator.language;
renderOpen();
loadModels();
