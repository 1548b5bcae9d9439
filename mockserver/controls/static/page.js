// tokenmock's control page: everything it shows or changes goes through the admin API (/__mock/...).
// No framework, no build step. Data from the server is only ever inserted as text (textContent), never
// as markup. The admin token, when the mock asks for one, is kept for this tab only (sessionStorage).
"use strict";

const API = "/__mock";
const TOKEN_KEY = "tokenmock.admin_token";
const POLL_MS = 1000;
const JOURNAL_LIMIT = 200;

const $ = (id) => document.getElementById(id);
const state = { index: null, operations: {}, open: new Set(), journalKey: "", faultsKey: "", claimsKey: "" };

class AdminRefusal extends Error {}

function say(text, isError = false) {
  const line = $("status-line");
  line.textContent = text;
  line.classList.toggle("error", isError);
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", redirect: "error", referrerPolicy: "no-referrer",
  });
  if (response.status === 401) {
    $("token-form").hidden = false;
    throw new AdminRefusal("the admin API wants the admin token");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new AdminRefusal(`${method} ${path}: ${response.status} ${(data && data.error_description) || ""}`);
  }
  return data;
}

// A demo value as text: nested values (AminoTV's other_user) as JSON, never "[object Object]".
function asText(value) {
  return value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
}

function parseJson(id, what) {
  try {
    const value = JSON.parse($(id).value || "{}");
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch (error) {
    throw new AdminRefusal(`${what} must be a JSON object, e.g. {"tenant": "acme"}`);
  }
}

function copyButton(text, what) {
  const copy = document.createElement("button");
  copy.type = "button";
  copy.textContent = "copy";
  copy.addEventListener("click", () => copyText(text(), what));
  return copy;
}

function copyText(text, what) {
  navigator.clipboard.writeText(text).then(
    () => say(`copied the ${what}`), () => say("the browser refused the clipboard", true));
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function option(select, value, label) {
  const opt = document.createElement("option");
  opt.value = value;
  opt.textContent = label || value;
  select.appendChild(opt);
}

function resetOptions(select, firstLabel) {
  select.replaceChildren();
  option(select, "", firstLabel);
}

// Vendors, base URLs, demo credentials and a curl line each: the public index (GET /).
async function loadIndex() {
  const response = await fetch("/", { credentials: "omit", cache: "no-store" });
  state.index = await response.json();
  const body = $("vendors-body");
  body.replaceChildren();
  for (const [name, vendor] of Object.entries(state.index.vendors)) {
    state.operations[name] = Object.keys(vendor.operations);
    const row = document.createElement("tr");
    cell(row, name);
    cell(row, vendor.base_url, "mono");
    cell(row, Object.entries(vendor.demo_credentials).map(([k, v]) => `${k}: ${asText(v)}`).join("\n"), "mono creds");
    const tryIt = cell(row, "");
    const pre = document.createElement("pre");
    pre.className = "curl";
    pre.textContent = vendor.curl;
    tryIt.append(pre, copyButton(() => vendor.curl, `${name} curl line`));
    body.appendChild(row);
    option($("fault-vendor"), name);
    option($("filter-vendor"), name);
    for (const id of ["mint-vendor", "claims-vendor", "client-vendor", "rotate-vendor"]) option($(id), name);
  }
  fillOperations($("fault-operation"), "", "every operation");
  fillOperations($("filter-operation"), "", "all");
}

function fillOperations(select, vendor, firstLabel) {
  const chosen = select.value;
  resetOptions(select, firstLabel);
  const names = vendor ? state.operations[vendor] || [] : [...new Set(Object.values(state.operations).flat())].sort();
  for (const name of names) option(select, name);
  if (names.includes(chosen)) select.value = chosen;
}

// Armed faults, and the form to arm them.
async function loadFaults() {
  const data = await api("GET", "/faults");
  const kinds = $("fault-kind");
  if (!kinds.options.length) for (const kind of data.kinds) option(kinds, kind);
  const key = JSON.stringify(data.faults);
  if (key === state.faultsKey) return;  // unchanged: leave the buttons where the pointer is
  state.faultsKey = key;
  const body = $("faults-body");
  body.replaceChildren();
  for (const fault of data.faults) {
    const row = document.createElement("tr");
    row.dataset.id = fault.id;
    for (const value of [fault.id, fault.kind, fault.vendor || "every", fault.operation || "every",
      fault.remaining === null ? "∞" : fault.remaining, fault.probability, JSON.stringify(fault.params), fault.applied]) {
      cell(row, value);
    }
    const actions = cell(row, "");
    const disarm = document.createElement("button");
    disarm.type = "button";
    disarm.textContent = "disarm";
    disarm.className = "disarm";
    disarm.addEventListener("click", () => act(() => api("DELETE", `/faults/${fault.id}`), `disarmed fault ${fault.id}`));
    actions.appendChild(disarm);
    body.appendChild(row);
  }
}

async function armFault(event) {
  event.preventDefault();
  let params;
  try {
    params = JSON.parse($("fault-params").value || "{}");
  } catch (error) {
    say("params must be JSON, e.g. {\"status\": 401}", true);
    return;
  }
  const body = { kind: $("fault-kind").value, params };
  if ($("fault-vendor").value) body.vendor = $("fault-vendor").value;
  if ($("fault-operation").value) body.operation = $("fault-operation").value;
  if ($("fault-probability").value) body.probability = Number($("fault-probability").value);
  else if ($("fault-times").value && body.kind !== "sequence") body.times = Number($("fault-times").value);
  if ($("fault-seed").value) body.seed = Number($("fault-seed").value);
  await act(async () => {
    const fault = await api("POST", "/faults", body);
    return `armed fault ${fault.id} (${fault.kind})`;
  });
}

// Tokens: mint one, arm claims for the next ones, revoke one.
async function mintToken(event) {
  event.preventDefault();
  await act(async () => {
    const body = { vendor: $("mint-vendor").value, claims: parseJson("mint-claims", "claims") };
    if ($("mint-client").value.trim()) body.client_id = $("mint-client").value.trim();
    if ($("mint-lifetime").value) body.lifetime = Number($("mint-lifetime").value);
    const minted = await api("POST", "/tokens", body);
    $("minted-token").textContent = minted.access_token;
    $("minted-claims").textContent = JSON.stringify(minted.claims, null, 2);
    $("minted-curl").textContent = minted.curl;
    $("minted").hidden = false;
    return `minted a ${minted.vendor} token for ${minted.client_id}, ${minted.expires_in} s`;
  });
}

async function loadClaims() {
  const data = await api("GET", "/claims");
  const key = JSON.stringify(data.armed);
  if (key === state.claimsKey) return;
  state.claimsKey = key;
  const body = $("claims-body");
  body.replaceChildren();
  for (const armed of data.armed) {
    const row = document.createElement("tr");
    for (const value of [armed.id, armed.vendor, armed.client_id || "every", JSON.stringify(armed.claims),
      JSON.stringify(armed.header), armed.remaining === null ? "∞" : armed.remaining, armed.applied]) {
      cell(row, value, "mono");
    }
    body.appendChild(row);
  }
}

async function armClaims(event) {
  event.preventDefault();
  await act(async () => {
    const body = { vendor: $("claims-vendor").value, claims: parseJson("claims-json", "claims") };
    if ($("claims-client").value.trim()) body.client_id = $("claims-client").value.trim();
    if ($("claims-times").value) body.times = Number($("claims-times").value);
    const armed = await api("POST", "/claims", body);
    return `armed claims ${armed.id} for ${armed.vendor}`;
  });
}

async function revokeToken(event) {
  event.preventDefault();
  await act(async () => {
    await api("POST", "/revoke", { token: $("revoke-token").value.trim() });
    $("revoke-token").value = "";
    return "token revoked";
  });
}

// Clients and keys.
async function addClient(event) {
  event.preventDefault();
  await act(async () => {
    const answer = await api("POST", "/clients", { vendor: $("client-vendor").value, client: parseJson("client-json", "client") });
    return `added a ${answer.vendor} client (${answer.fields.join(", ")})`;
  });
}

async function rotateKeys(event) {
  event.preventDefault();
  await act(async () => {
    const rotated = await api("POST", "/keys/rotate", { vendor: $("rotate-vendor").value });
    $("rotate-result").textContent = `signing with ${rotated.kid}; next ${rotated.next.join(", ")}`;
    return `rotated ${rotated.vendor}'s keys`;
  });
}

// The clock.
async function loadClock() {
  const clock = await api("GET", "/clock");
  $("clock-now").textContent = new Date(clock.now * 1000).toISOString();
  $("clock-state").textContent = `${clock.frozen ? "frozen" : "running"}, offset ${Math.round(clock.offset)} s`;
}

const moveClock = (change, done) => act(async () => { await api("POST", "/clock", change); return done; });

// Chaos.
async function loadChaos() {
  const chaos = await api("GET", "/chaos");
  $("chaos-state").textContent = chaos.seed === null
    ? "off"
    : `on: seed ${chaos.seed}, ${chaos.drawn} drawn, excluding ${chaos.exclude.join(", ") || "nothing"}`;
}

async function startChaos(event) {
  event.preventDefault();
  const exclude = $("chaos-exclude").value.split(",").map((k) => k.trim()).filter(Boolean);
  await act(async () => {
    await api("PUT", "/chaos", { seed: Number($("chaos-seed").value), exclude });
    return "chaos on";
  });
}

// The journal, polled; filtered by vendor and operation on the server, by status here.
function statusMatches(status, filter) {
  filter = filter.trim().toLowerCase();
  if (!filter) return true;
  if (/^[1-5]xx$/.test(filter)) return String(status)[0] === filter[0];
  return String(status) === filter;
}

async function loadJournal() {
  const query = new URLSearchParams({ limit: String(JOURNAL_LIMIT) });
  if ($("filter-vendor").value) query.set("vendor", $("filter-vendor").value);
  if ($("filter-operation").value) query.set("operation", $("filter-operation").value);
  const data = await api("GET", "/requests?" + query);
  const entries = data.requests.filter((e) => statusMatches(e.status, $("filter-status").value)).reverse();
  const key = JSON.stringify([entries.map((e) => e.id), [...state.open]]);
  if (key === state.journalKey) return;  // nothing new: keep the table (and any selection) as it is
  state.journalKey = key;
  const body = $("journal-body");
  body.replaceChildren();
  for (const entry of entries) {
    const row = document.createElement("tr");
    row.className = "entry";
    row.dataset.id = entry.id;
    cell(row, entry.id);
    cell(row, new Date(entry.time * 1000).toISOString().slice(11, 23));
    cell(row, entry.vendor || "-");
    cell(row, entry.operation || "-");
    cell(row, `${entry.method} ${entry.path}`, "mono");
    cell(row, entry.status, "status s" + String(entry.status)[0]);
    cell(row, entry.fault || "", "fault");
    cell(row, entry.duration_ms === undefined ? "" : entry.duration_ms.toFixed(1));
    row.addEventListener("click", () => {
      if (state.open.has(entry.id)) state.open.delete(entry.id); else state.open.add(entry.id);
      state.journalKey = "";
      loadJournal().catch(report);
    });
    body.appendChild(row);
    if (state.open.has(entry.id)) {
      const details = document.createElement("tr");
      details.className = "details";
      const td = cell(details, "");
      td.colSpan = 8;
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify({
        request: { method: entry.method, path: entry.path, query: entry.query, headers: entry.headers, body: entry.body },
        answer: { status: entry.status, fault: entry.fault, claims: entry.claims, duration_ms: entry.duration_ms,
          worker: entry.worker },
      }, null, 2);
      td.appendChild(pre);
      body.appendChild(details);
    }
  }
}

function report(error) {
  say(error instanceof AdminRefusal ? error.message : `the page failed: ${error}`, true);
}

async function act(action, done) {
  try {
    const result = await action();
    say(done || result || "done");
    await refresh();
  } catch (error) {
    report(error);
  }
}

async function refresh() {
  await Promise.all([loadFaults(), loadClaims(), loadClock(), loadChaos(), loadJournal()]);
}

async function poll() {
  try {
    await refresh();
    if ($("status-line").textContent === "loading…") say("connected; the journal updates every second");
  } catch (error) {
    report(error);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("admin-token").value);
    $("admin-token").value = "";
    $("token-form").hidden = true;
    $("forget-token").hidden = false;
    act(async () => "admin token kept for this tab");
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("forget-token").hidden = true;
    say("admin token forgotten");
  });
  $("forget-token").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("fault-form").addEventListener("submit", armFault);
  $("fault-vendor").addEventListener("change", () => fillOperations($("fault-operation"), $("fault-vendor").value, "every operation"));
  $("faults-clear").addEventListener("click", () => act(() => api("DELETE", "/faults"), "disarmed every fault"));
  $("clock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    moveClock({ advance: Number($("clock-seconds").value) }, `advanced ${$("clock-seconds").value} s`);
  });
  $("clock-freeze").addEventListener("click", () => moveClock({ freeze: true }, "clock frozen"));
  $("clock-unfreeze").addEventListener("click", () => moveClock({ freeze: false }, "clock running"));
  $("clock-reset").addEventListener("click", () => moveClock({ reset: true }, "real time again"));
  $("chaos-form").addEventListener("submit", startChaos);
  $("chaos-stop").addEventListener("click", () => act(() => api("DELETE", "/chaos"), "chaos off"));
  $("journal-filter").addEventListener("submit", (event) => event.preventDefault());
  $("filter-vendor").addEventListener("change", () => {
    fillOperations($("filter-operation"), $("filter-vendor").value, "all");
    loadJournal().catch(report);
  });
  for (const id of ["filter-operation", "filter-status"]) {
    $(id).addEventListener("input", () => loadJournal().catch(report));
  }
  $("journal-clear").addEventListener("click", () => act(() => api("DELETE", "/requests"), "journal cleared"));
  $("mint-form").addEventListener("submit", mintToken);
  $("minted-copy").addEventListener("click", () => copyText($("minted-curl").textContent, "curl line"));
  $("claims-form").addEventListener("submit", armClaims);
  $("claims-clear").addEventListener("click", () => act(() => api("DELETE", "/claims"), "disarmed every claim set"));
  $("revoke-form").addEventListener("submit", revokeToken);
  $("client-form").addEventListener("submit", addClient);
  $("rotate-form").addEventListener("submit", rotateKeys);
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  try {
    await loadIndex();
  } catch (error) {
    report(error);
  }
  poll();
});
