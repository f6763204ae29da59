// The portal's core: API calls, language, DOM helpers, sign-in, hash routing. Views live in views-*.js.
// Data from the API is only ever written with textContent (through h()), never as HTML.
"use strict";

const HDS = (window.HDS = window.HDS || {});
const state = (HDS.state = {
  token: sessionStorage.getItem("hds.token") || "", roles: [], user: "", hospital: null, config: null,
  lang: localStorage.getItem("hds.lang") || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en"),
  datasets: null, vocab: null,
});

// --- language ------------------------------------------------------------------------------------------------
function t(key, vars) {
  const dict = window.HDS_I18N[state.lang] || window.HDS_I18N.en;
  let s = dict[key];
  if (s === undefined) s = window.HDS_I18N.en[key];
  if (s === undefined) s = key;
  if (vars) Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
  return s;
}
HDS.t = t;

function locale() { return state.lang === "zh" ? "zh-CN" : undefined; }

HDS.fmtDateTime = function (iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
};
HDS.fmtDate = function (iso) {
  if (!iso) return "";
  const d = new Date(String(iso).length === 10 ? iso + "T00:00:00" : iso);
  if (isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(d);
};
HDS.fmtNumber = function (n) {
  return n === null || n === undefined ? "" : new Intl.NumberFormat(locale()).format(n);
};
HDS.fmtAge = function (seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 90) return t("age.seconds", { n: Math.round(seconds) });
  if (seconds < 5400) return t("age.minutes", { n: Math.round(seconds / 60) });
  if (seconds < 129600) return t("age.hours", { n: Math.round(seconds / 3600) });
  return t("age.days", { n: Math.round(seconds / 86400) });
};

function applyStaticText() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-label]").forEach(function (el) { el.setAttribute("aria-label", t(el.dataset.i18nLabel)); });
  const sel = document.getElementById("lang");
  if (sel) sel.value = state.lang;
}

// --- DOM -----------------------------------------------------------------------------------------------------
// h("p", {class: "x", onclick: fn}, "text", child, [more]) -> element. Strings become text nodes.
function h(tag, attrs) {
  const el = document.createElement(tag);
  const a = attrs || {};
  Object.keys(a).forEach(function (k) {
    const v = a[k];
    if (v === null || v === undefined || v === false) return;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected" || k === "hidden" || k === "required") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  });
  for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}
function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
  el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
}
HDS.h = h;
HDS.clear = function (el) { while (el.firstChild) el.removeChild(el.firstChild); return el; };

// A message placed next to what it is about (role=status, or role=alert for errors).
HDS.note = function (el, text, kind) {
  HDS.clear(el);
  el.className = "note" + (kind ? " " + kind : "");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  if (text) append(el, text);
};

// A table inside a scrolling wrapper (phones); headers are translation keys.
HDS.table = function (caption, headers, rows, attrs) {
  const thead = h("thead", null, h("tr", null, headers.map(function (k) { return h("th", { scope: "col" }, t(k)); })));
  const tbody = h("tbody", null, rows);
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", attrs || null, h("caption", { class: "visually-hidden" }, caption), thead, tbody));
};

// A form field: label, control, hint and the place for its error message (aria-describedby).
HDS.field = function (id, labelKey, control, hintKey) {
  control.id = id;
  const described = [];
  const hint = hintKey ? h("p", { class: "hint", id: id + "-hint" }, t(hintKey)) : null;
  if (hint) described.push(id + "-hint");
  const err = h("p", { class: "field-error", id: id + "-error", hidden: true });
  described.push(id + "-error");
  control.setAttribute("aria-describedby", described.join(" "));
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), hint, control, err);
};
HDS.fieldError = function (id, text) {
  const control = document.getElementById(id);
  const err = document.getElementById(id + "-error");
  if (!control || !err) return;
  err.textContent = text || "";
  err.hidden = !text;
  if (text) control.setAttribute("aria-invalid", "true"); else control.removeAttribute("aria-invalid");
};

HDS.badge = function (status) { return h("span", { class: "badge badge-" + status }, t("status." + status)); };

// --- API -----------------------------------------------------------------------------------------------------
HDS.api = async function (path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers = Object.assign({ Authorization: "Bearer " + state.token }, opts.headers);
  if (opts.json !== undefined) {
    opts.body = JSON.stringify(opts.json);
    opts.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    const err = new Error(t("error.network"));
    err.status = 0;
    throw err;
  }
  if (opts.raw && res.ok) return res;
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : res.statusText;
    const err = new Error(detail);
    err.status = res.status;
    if (res.status === 401) { signOut(t("signin.expired")); }
    throw err;
  }
  return body;
};

HDS.datasets = async function () {
  if (!state.datasets) state.datasets = await HDS.api("/api/datasets");
  return state.datasets;
};
HDS.datasetTitle = function (id) {
  const d = (state.datasets || []).find(function (x) { return x.id === id; });
  return d ? d.title : id;
};
HDS.vocab = async function () {
  if (!state.vocab) state.vocab = await HDS.api("/api/vocabularies");
  return state.vocab;
};
HDS.label = function (entry) { return entry ? (state.lang === "zh" ? entry.zh : entry.en) : ""; };
HDS.shortId = function (id) { return String(id || "").slice(0, 8); };

// Saves a Blob as a file (downloads from POST responses; the bearer token never goes in a URL).
HDS.saveBlob = function (blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
};

// --- roles and navigation ------------------------------------------------------------------------------------
function has(role) { return state.roles.includes(role); }
HDS.has = has;
const R = "researcher", S = "data-steward", A = "authority-admin", P = "hospital-publisher";

// name -> [view function name, roles that see it in the navigation, roles allowed (empty: any)]
const ROUTES = {
  catalog: { view: "catalog", nav: [R, S, A, P], allow: [] },
  dataset: { view: "dataset", nav: [], allow: [] },
  request: { view: "request", nav: [R], allow: [R] },
  requests: { view: "requests", nav: [R], allow: [R] },
  query: { view: "query", nav: [R], allow: [R] },
  review: { view: "review", nav: [S, A], allow: [S, A] },
  grants: { view: "grants", nav: [A], allow: [A] },
  audit: { view: "audit", nav: [A], allow: [A] },
  feeds: { view: "feeds", nav: [S, A, P], allow: [S, A, P] },
};
const NAV_ORDER = ["catalog", "request", "requests", "query", "review", "grants", "audit", "feeds"];

function homeRoute() { return has(R) || has(S) || has(A) ? "catalog" : has(P) ? "feeds" : "catalog"; }

function parseHash() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "", arg: parts[1] || null, params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}
HDS.route = parseHash;

// go("dataset", "admissions", {tab: "x"}) -> a new history entry; replace=true changes the current one.
HDS.go = function (name, arg, params, replace) {
  let hash = "#/" + name + (arg ? "/" + encodeURIComponent(arg) : "");
  const qs = new URLSearchParams();
  Object.keys(params || {}).forEach(function (k) { if (params[k] !== null && params[k] !== undefined && params[k] !== "") qs.set(k, params[k]); });
  if (qs.toString()) hash += "?" + qs.toString();
  if (replace) { history.replaceState(null, "", hash); render(); } else if (location.hash === hash) render(); else location.hash = hash;
};
HDS.href = function (name, arg, params) {
  let hash = "#/" + name + (arg ? "/" + encodeURIComponent(arg) : "");
  const qs = new URLSearchParams(params || {});
  return qs.toString() ? hash + "?" + qs.toString() : hash;
};

function buildNav(current) {
  const ul = HDS.clear(document.getElementById("nav-list"));
  NAV_ORDER.forEach(function (name) {
    const r = ROUTES[name];
    if (!r.nav.some(has)) return;
    const label = name === "feeds" && has(P) && !has(A) && !has(S) ? t("nav.myfeeds") : t("nav." + name);
    const a = h("a", { href: "#/" + name, "aria-current": name === current ? "page" : null }, label);
    ul.appendChild(h("li", null, a));
  });
}

async function render() {
  applyStaticText();
  if (!state.token) { showSignIn(); return; }
  const route = parseHash();
  if (!ROUTES[route.name]) { HDS.go(homeRoute(), null, null, true); return; }
  const def = ROUTES[route.name];
  const current = route.name === "dataset" ? "catalog" : route.name;
  buildNav(current);
  const seq = ++renderSeq;
  const root = document.getElementById("main");
  const main = h("div", { class: "view" });  // built off-page, shown only if no newer render started meanwhile
  document.title = t("nav." + (route.name === "dataset" ? "catalog" : route.name)) + " — " + t("app.title");
  if (def.allow.length && !def.allow.some(has)) {
    main.appendChild(h("h2", { tabindex: "-1" }, t("nav." + route.name)));
    main.appendChild(h("p", { class: "note error", role: "alert" }, t("error.role", { roles: def.allow.map(function (x) { return t("role." + x); }).join(", ") })));
    HDS.clear(root).appendChild(main);
    focusHeading(main);
    return;
  }
  HDS.clear(root).appendChild(h("p", { class: "note", role: "status" }, t("loading")));
  let pending = Promise.resolve();
  try {
    pending = HDS.views[def.view](main, route, function () { if (seq === renderSeq) HDS.clear(root).appendChild(main); });
    await pending;
  } catch (e) {
    main.appendChild(h("p", { class: "note error", role: "alert" }, t("error.load", { detail: e.message })));
  }
  if (seq !== renderSeq) return;
  if (main.parentNode !== root) HDS.clear(root).appendChild(main);
  focusHeading(main);
  root.dataset.view = route.name;
}
let renderSeq = 0;
HDS.render = render;

let firstRender = true;
function focusHeading(main) {
  // Moves focus to the new view's heading so screen-reader and keyboard users land on it (not on first load).
  if (firstRender) { firstRender = false; return; }
  const h2 = main.querySelector("h2");
  if (h2) { h2.setAttribute("tabindex", "-1"); h2.focus({ preventScroll: false }); }
}

// --- sign in -------------------------------------------------------------------------------------------------
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), function (c) { return c.charCodeAt(0); });
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) { return null; }
}

async function signIn(token) {
  const msg = document.getElementById("signin-msg");
  const c = claims(token);
  if (!c) { HDS.fieldError("token", t("signin.notoken")); return false; }
  HDS.fieldError("token", "");
  state.token = token;
  try {
    state.datasets = await HDS.api("/api/datasets");
  } catch (e) {
    state.token = "";
    HDS.note(msg, t("signin.refused", { detail: e.message }), "error");
    return false;
  }
  state.user = c.preferred_username || c.sub || "?";
  state.roles = ((c.realm_access || {}).roles || []).filter(function (r) { return [R, S, A, P].includes(r); });
  state.hospital = c.hospital || null;
  sessionStorage.setItem("hds.token", token);
  HDS.note(msg, "");
  document.getElementById("signin").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("main").hidden = false;
  document.getElementById("signout").hidden = false;
  const who = document.getElementById("who");
  who.textContent = t("who", { user: state.user, roles: state.roles.map(function (r) { return t("role." + r); }).join(", ") });
  firstRender = true;
  await render();
  return true;
}

function signOut(reason) {
  sessionStorage.removeItem("hds.token");
  state.token = ""; state.roles = []; state.user = ""; state.datasets = null;
  document.getElementById("who").textContent = "";
  showSignIn();
  if (reason) HDS.note(document.getElementById("signin-msg"), reason, "error");
}

function showSignIn() {
  document.getElementById("signin").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("main").hidden = true;
  document.getElementById("signout").hidden = true;
  document.title = t("signin.title") + " — " + t("app.title");
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
  sessionStorage.setItem("hds.pkce", JSON.stringify({ verifier: verifier, state: st, hash: location.hash }));
  const url = new URL(cfg.issuer + "/protocol/openid-connect/auth");
  url.search = new URLSearchParams({ client_id: cfg.client_id, response_type: "code", scope: "openid",
    redirect_uri: location.origin + "/", code_challenge: challenge, code_challenge_method: "S256", state: st }).toString();
  location.assign(url.toString());
}

async function oidcFinish(params) {
  const saved = JSON.parse(sessionStorage.getItem("hds.pkce") || "{}");
  sessionStorage.removeItem("hds.pkce");
  history.replaceState(null, "", "/" + (saved.hash || ""));
  const msg = document.getElementById("signin-msg");
  if (!saved.verifier || params.get("state") !== saved.state) { HDS.note(msg, t("signin.mismatch"), "error"); return; }
  const res = await fetch(state.config.issuer + "/protocol/openid-connect/token", {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: state.config.client_id,
      code: params.get("code"), redirect_uri: location.origin + "/", code_verifier: saved.verifier }).toString() });
  if (!res.ok) { HDS.note(msg, t("signin.idp_refused"), "error"); return; }
  await signIn((await res.json()).access_token);
}

// --- wiring --------------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async function () {
  applyStaticText();
  document.getElementById("lang").addEventListener("change", function (ev) {
    state.lang = ev.target.value === "zh" ? "zh" : "en";
    localStorage.setItem("hds.lang", state.lang);
    if (state.token) {
      document.getElementById("who").textContent = t("who", { user: state.user, roles: state.roles.map(function (r) { return t("role." + r); }).join(", ") });
      render();
    } else { applyStaticText(); showSignIn(); }
  });
  document.getElementById("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    signIn(document.getElementById("token").value.trim());
  });
  document.getElementById("signout").addEventListener("click", function () { signOut(); });
  document.getElementById("oidc-login").addEventListener("click", oidcStart);
  document.getElementById("skip").addEventListener("click", function (ev) {
    ev.preventDefault();
    const main = document.getElementById(state.token ? "main" : "signin");
    main.setAttribute("tabindex", "-1");
    main.focus();
  });
  window.addEventListener("hashchange", function () { if (state.token) render(); });
  try {
    state.config = await (await fetch("/portal/config.json")).json();
  } catch (e) { state.config = { mode: "dev" }; }
  if (state.config.mode === "oidc") {
    document.getElementById("oidc-login").hidden = false;
    document.getElementById("signin-help").textContent = t("signin.help_oidc");
    document.getElementById("signin-help").removeAttribute("data-i18n");
    const params = new URLSearchParams(location.search);
    if (params.get("code")) { await oidcFinish(params); return; }
  }
  if (state.token) { if (!(await signIn(state.token))) showSignIn(); } else showSignIn();
});
