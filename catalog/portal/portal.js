// The portal: plain JavaScript against the catalog API. Data is only ever written with textContent.
"use strict";

const state = { token: sessionStorage.getItem("hds.token") || "", roles: [], user: "", config: null };

function $(sel) { return document.querySelector(sel); }

function say(text, isError) {
  const m = $("#message");
  m.textContent = text || "";
  m.className = isError ? "error" : "";
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers = Object.assign({ Authorization: "Bearer " + state.token }, opts.headers);
  if (opts.json !== undefined) {
    opts.body = JSON.stringify(opts.json);
    opts.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, opts);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : res.statusText;
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return body;
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch (e) { return null; }
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function clear(tbody) { while (tbody.firstChild) tbody.removeChild(tbody.firstChild); }

function has(role) { return state.roles.includes(role); }

// --- sign in ------------------------------------------------------------------------------------------------
async function signIn(token) {
  const c = claims(token);
  if (!c) { say("That does not look like a bearer token.", true); return; }
  state.token = token;
  state.user = c.preferred_username || c.sub || "?";
  state.roles = ((c.realm_access || {}).roles || []);
  try {
    await api("/api/datasets");
  } catch (e) {
    state.token = "";
    say("Sign-in refused: " + e.message, true);
    return;
  }
  sessionStorage.setItem("hds.token", token);
  $("#who").textContent = state.user + " (" + state.roles.join(", ") + ")";
  $("#signin").hidden = true;
  $("#app").hidden = false;
  document.querySelectorAll("[data-role]").forEach(function (el) { el.hidden = !has(el.dataset.role); });
  say("");
  show("catalog");
}

function signOut() {
  sessionStorage.removeItem("hds.token");
  state.token = "";
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#who").textContent = "Not signed in";
}

// OIDC authorization code flow with PKCE (S256) against Keycloak, when the server is configured for it.
function b64url(bytes) {
  return btoa(String.fromCharCode.apply(null, new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function oidcStart() {
  const cfg = state.config;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const st = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("hds.pkce", JSON.stringify({ verifier: verifier, state: st }));
  const url = new URL(cfg.issuer + "/protocol/openid-connect/auth");
  url.search = new URLSearchParams({ client_id: cfg.client_id, response_type: "code", scope: "openid",
    redirect_uri: location.origin + "/", code_challenge: challenge, code_challenge_method: "S256", state: st }).toString();
  location.assign(url.toString());
}

async function oidcFinish(params) {
  const saved = JSON.parse(sessionStorage.getItem("hds.pkce") || "{}");
  sessionStorage.removeItem("hds.pkce");
  history.replaceState(null, "", "/");
  if (!saved.verifier || params.get("state") !== saved.state) { say("Sign-in state mismatch; try again.", true); return; }
  const res = await fetch(state.config.issuer + "/protocol/openid-connect/token", {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: state.config.client_id,
      code: params.get("code"), redirect_uri: location.origin + "/", code_verifier: saved.verifier }).toString() });
  if (!res.ok) { say("Keycloak refused the sign-in.", true); return; }
  await signIn((await res.json()).access_token);
}

// --- views --------------------------------------------------------------------------------------------------
function show(view) {
  document.querySelectorAll(".view").forEach(function (v) { v.hidden = v.id !== "view-" + view; });
  document.querySelectorAll("nav button[data-view]").forEach(function (b) { b.classList.toggle("active", b.dataset.view === view); });
  ({ catalog: loadCatalog, requests: loadRequests, query: loadGrants, audit: loadAudit })[view]().catch(function (e) { say(e.message, true); });
}

async function loadCatalog() {
  const rows = await api("/api/datasets");
  const tbody = $("#datasets tbody");
  clear(tbody);
  rows.forEach(function (d) {
    const tr = document.createElement("tr");
    tr.className = "clickable";
    tr.dataset.id = d.id;
    cell(tr, d.title + " (" + d.id + ")");
    cell(tr, d.rows);
    cell(tr, d.tier);
    cell(tr, (d.hospitals || []).join(", "));
    cell(tr, (d.deid_profiles || []).join(", "));
    cell(tr, d.last_update || "");
    tr.addEventListener("click", function () { loadDataset(d.id).catch(function (e) { say(e.message, true); }); });
    tbody.appendChild(tr);
  });
}

async function loadDataset(id) {
  const d = await api("/api/datasets/" + encodeURIComponent(id));
  const box = $("#dataset-detail");
  while (box.firstChild) box.removeChild(box.firstChild);
  const h = document.createElement("h3"); h.textContent = d.title; box.appendChild(h);
  const p = document.createElement("p"); p.textContent = d.description; box.appendChild(p);
  const facts = document.createElement("p");
  facts.textContent = d.rows + " rows, " + d.patients + " patients, tier " + d.tier + "; sources: " +
    d.sources.map(function (s) { return s.hospital + "/" + s.feed + " (" + s.rows + ")"; }).join(", ");
  box.appendChild(facts);
  const ul = document.createElement("ul");
  d.schema.forEach(function (c) { const li = document.createElement("li"); li.textContent = c.name + " " + c.type; ul.appendChild(li); });
  box.appendChild(ul);
  box.hidden = false;
}

async function loadRequests() {
  const requests = await api("/api/access-requests");
  const list = Array.isArray(requests) ? requests : (requests.requests || []);
  const tbody = $("#requests tbody");
  clear(tbody);
  list.forEach(function (r) {
    const tr = document.createElement("tr");
    cell(tr, r.id);
    cell(tr, (r.requester && r.requester.username) || r.requester || "");
    cell(tr, (r.datasets || []).join(", "));
    cell(tr, r.purpose);
    cell(tr, r.status);
    const actions = cell(tr, "");
    if (has("authority-admin") && (r.status === "submitted" || r.status === "under_review")) {
      const ok = document.createElement("button");
      ok.textContent = "Approve";
      ok.addEventListener("click", function () { decide(r.id, "approve"); });
      const no = document.createElement("button");
      no.textContent = "Refuse";
      no.addEventListener("click", function () { decide(r.id, "refuse"); });
      actions.appendChild(ok); actions.appendChild(no);
    }
    tbody.appendChild(tr);
  });
  const grants = await api("/api/grants");
  const glist = Array.isArray(grants) ? grants : (grants.grants || []);
  const gbody = $("#grants tbody");
  clear(gbody);
  glist.forEach(function (g) {
    const tr = document.createElement("tr");
    cell(tr, g.id);
    cell(tr, (g.grantee && g.grantee.username) || g.grantee || "");
    cell(tr, (g.datasets || []).join(", "));
    cell(tr, g.expires_at);
    cell(tr, g.status);
    gbody.appendChild(tr);
  });
}

async function decide(id, action) {
  try {
    if (action === "approve") {
      const g = await api("/api/access-requests/" + encodeURIComponent(id) + "/approve", { method: "POST", json: {} });
      say("Approved: grant " + g.grant_id);
    } else {
      const reason = prompt("Reason for refusing") || "";
      await api("/api/access-requests/" + encodeURIComponent(id) + "/refuse", { method: "POST", json: { reason: reason } });
      say("Refused.");
    }
    await loadRequests();
  } catch (e) { say(e.message, true); }
}

async function loadGrants() {
  const grants = await api("/api/grants");
  const list = (Array.isArray(grants) ? grants : (grants.grants || [])).filter(function (g) { return g.status === "active"; });
  const sel = $("#q-grant");
  while (sel.firstChild) sel.removeChild(sel.firstChild);
  list.forEach(function (g) {
    const o = document.createElement("option");
    o.value = g.id;
    o.textContent = g.id + " — " + (g.datasets || []).join(", ") + " (until " + g.expires_at + ")";
    sel.appendChild(o);
  });
  if (!list.length) say("No active grant: request access first.");
}

async function runQuery(ev) {
  ev.preventDefault();
  const thead = $("#result thead"), tbody = $("#result tbody");
  clear(thead); clear(tbody);
  $("#query-summary").textContent = "";
  try {
    const r = await api("/api/query", { method: "POST", json: { grant_id: $("#q-grant").value, sql: $("#q-sql").value } });
    const hr = document.createElement("tr");
    r.columns.forEach(function (c) { const th = document.createElement("th"); th.textContent = c; hr.appendChild(th); });
    thead.appendChild(hr);
    r.rows.forEach(function (row) {
      const tr = document.createElement("tr");
      row.forEach(function (v) { if (v === null) cell(tr, "suppressed", "suppressed"); else cell(tr, v); });
      tbody.appendChild(tr);
    });
    $("#query-summary").textContent = r.row_count + " rows (" + r.tier + " tier), " + r.suppressed + " cells suppressed" + (r.truncated ? ", truncated" : "");
    say("");
  } catch (e) { say("Refused: " + e.message, true); }
}

async function loadAudit() {
  const r = await api("/api/audit?limit=100");
  const tbody = $("#audit tbody");
  clear(tbody);
  (r.records || []).forEach(function (rec) {
    const tr = document.createElement("tr");
    cell(tr, rec.seq); cell(tr, rec.ts); cell(tr, rec.actor); cell(tr, rec.action); cell(tr, (rec.subjects || []).join(" "));
    tbody.appendChild(tr);
  });
}

async function verify() {
  try {
    const r = await api("/api/audit/verify");
    $("#verify-result").textContent = r.ok ? "Chain intact: " + r.records + " records." : "TAMPERED at record " + r.first_bad_seq + ": " + r.problem;
  } catch (e) { say(e.message, true); }
}

async function submitRequest(ev) {
  ev.preventDefault();
  try {
    const body = { datasets: $("#rq-datasets").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean),
      purpose: $("#rq-purpose").value, duration_days: parseInt($("#rq-days").value, 10) };
    if ($("#rq-project").value) body.project = $("#rq-project").value;
    if ($("#rq-basis").value) body.legal_basis = $("#rq-basis").value;
    const r = await api("/api/access-requests", { method: "POST", json: body });
    say("Request " + r.id + " " + r.status + ".");
    await loadRequests();
  } catch (e) { say(e.message, true); }
}

// --- wiring -------------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async function () {
  $("#token-form").addEventListener("submit", function (ev) { ev.preventDefault(); signIn($("#token").value.trim()); });
  $("#signout").addEventListener("click", signOut);
  document.querySelectorAll("nav button[data-view]").forEach(function (b) { b.addEventListener("click", function () { show(b.dataset.view); }); });
  $("#query-form").addEventListener("submit", runQuery);
  $("#request-form").addEventListener("submit", submitRequest);
  $("#verify").addEventListener("click", verify);
  $("#oidc-login").addEventListener("click", oidcStart);
  try {
    state.config = await (await fetch("/portal/config.json")).json();
  } catch (e) { state.config = { mode: "dev" }; }
  if (state.config.mode === "oidc") {
    $("#oidc-login").hidden = false;
    $("#signin-help").textContent = "Sign in with the city's identity provider.";
    const params = new URLSearchParams(location.search);
    if (params.get("code")) { await oidcFinish(params); return; }
  }
  if (state.token) await signIn(state.token);
});
