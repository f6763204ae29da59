// Researcher views: the catalog with filters, a dataset's documentation, the request form, my requests and
// grants, and the query workspace.
"use strict";

(function () {
  const HDS = window.HDS, h = HDS.h, t = HDS.t;
  const views = (HDS.views = HDS.views || {});

  function heading(key, vars) { return h("h2", { tabindex: "-1" }, t(key, vars)); }
  function list(items) { return (items || []).join(", "); }

  // --- catalog -----------------------------------------------------------------------------------------------
  views.catalog = async function (main, route) {
    const all = await HDS.datasets();
    const p = route.params;
    main.appendChild(heading("catalog.title"));
    main.appendChild(h("p", { class: "lead" }, t("catalog.lead")));
    const uniq = function (f) { return Array.from(new Set(all.flatMap(f))).sort(); };
    const options = function (values, labelOf) {
      return [h("option", { value: "" }, t("filter.any"))].concat(values.map(function (v) {
        return h("option", { value: v, selected: p.get(this) === v }, labelOf ? labelOf(v) : v);
      }, this));
    };
    const q = h("input", { type: "search", value: p.get("q") || "", autocomplete: "off" });
    const topic = h("select", null, options.call("topic", uniq(function (d) { return d.topics || []; }), function (v) { return t("topic." + v); }));
    const names = Object.assign.apply(null, [{}].concat(all.map(function (d) { return d.hospital_names || {}; })));
    const hospitalName = function (id) { return names[id] || id; };
    const hospital = h("select", null, options.call("hospital", uniq(function (d) { return d.hospitals || []; }), hospitalName));
    const format = h("select", null, options.call("format", uniq(function (d) { return d.format ? [d.format] : []; }), function (v) { return t("format." + v); }));
    const tier = h("select", null, options.call("tier", ["aggregate", "record", "extract"], function (v) { return t("tier." + v); }));
    const form = h("form", { class: "filters card", role: "search", "aria-label": t("catalog.filters") },
      HDS.field("f-q", "filter.search", q), HDS.field("f-topic", "filter.topic", topic),
      HDS.field("f-hospital", "filter.hospital", hospital), HDS.field("f-format", "filter.format", format),
      HDS.field("f-tier", "filter.tier", tier));
    const count = h("p", { class: "note", role: "status" });
    const results = h("div");
    main.appendChild(form);
    main.appendChild(count);
    main.appendChild(results);

    function apply() {
      const f = { q: q.value.trim(), topic: topic.value, hospital: hospital.value, format: format.value, tier: tier.value };
      history.replaceState(null, "", HDS.href("catalog", null, Object.fromEntries(Object.entries(f).filter(function (e) { return e[1]; }))));
      const words = f.q.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = all.filter(function (d) {
        const text = (d.id + " " + d.title + " " + d.description).toLowerCase();
        return words.every(function (w) { return text.includes(w); }) &&
          (!f.topic || (d.topics || []).includes(f.topic)) && (!f.hospital || (d.hospitals || []).includes(f.hospital)) &&
          (!f.format || d.format === f.format) && (!f.tier || d.tier === f.tier);
      });
      HDS.note(count, t("catalog.count", { n: shown.length, total: all.length }));
      HDS.clear(results);
      const rows = shown.map(function (d) {
        return h("tr", { "data-id": d.id },
          h("td", null, h("a", { href: HDS.href("dataset", d.id) }, d.title), h("div", { class: "muted" }, d.description)),
          h("td", null, (d.topics || []).map(function (x) { return t("topic." + x); }).join(", ")),
          h("td", null, h("span", { class: "tier tier-" + d.tier }, t("tier." + d.tier))),
          h("td", null, (d.hospitals || []).map(hospitalName).join(", ")),
          h("td", { class: "num" }, HDS.fmtNumber(d.rows)),
          h("td", { class: "num" }, HDS.fmtNumber(d.patients)),
          h("td", null, HDS.fmtDateTime(d.last_update)));
      });
      results.appendChild(HDS.table(t("catalog.title"), ["col.dataset", "col.topic", "col.tier", "col.hospitals",
        "col.records", "col.patients", "col.updated"], rows, { id: "datasets" }));
    }
    [q, topic, hospital, format, tier].forEach(function (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); apply(); });
    apply();
  };

  // --- dataset page ------------------------------------------------------------------------------------------
  function deidText(d) {
    const rule = t("deid." + d.rule);
    return d.detail ? rule + " (" + t("deid.detail." + d.detail) + ")" : rule;
  }

  views.dataset = async function (main, route) {
    const id = route.arg;
    const m = await HDS.api("/api/datasets/" + encodeURIComponent(id) + "/metadata");
    main.appendChild(h("p", { class: "crumbs" }, h("a", { href: HDS.href("catalog") }, t("nav.catalog")), " / ", m.title));
    main.appendChild(h("h2", { tabindex: "-1" }, m.title));
    main.appendChild(h("p", { class: "lead" }, m.description));
    const actions = h("div", { class: "actions" });
    if (HDS.has("researcher")) actions.appendChild(h("a", { class: "button primary", href: HDS.href("request", null, { dataset: id }) }, t("dataset.request")));
    const dcatMsg = h("p", { class: "note", role: "status" });
    ["json-ld", "turtle"].forEach(function (fmt) {
      actions.appendChild(h("button", { type: "button", onclick: async function () {
        try {
          const res = await HDS.api("/api/datasets/" + encodeURIComponent(id) + "/dcat", { raw: true,
            headers: { Accept: fmt === "turtle" ? "text/turtle" : "application/ld+json" } });
          HDS.saveBlob(await res.blob(), id + (fmt === "turtle" ? ".ttl" : ".jsonld"));
          HDS.note(dcatMsg, t("dataset.dcat_saved"));
        } catch (e) { HDS.note(dcatMsg, e.message, "error"); }
      } }, t("dataset.dcat_" + fmt)));
    });
    main.appendChild(actions);
    main.appendChild(dcatMsg);

    const k = m.k_anonymity;
    const facts = [
      ["dataset.tier", h("span", null, h("span", { class: "tier tier-" + m.tier }, t("tier." + m.tier)), " ", t("tier." + m.tier + ".explain"))],
      ["dataset.records", HDS.fmtNumber(m.rows)],
      ["dataset.patients", HDS.fmtNumber(m.patients)],
      ["dataset.coverage", m.coverage.start ? t("dataset.range", { from: HDS.fmtDate(m.coverage.start), to: HDS.fmtDate(m.coverage.end) }) : t("dataset.none")],
      ["dataset.sources", m.hospitals.map(function (x) { return x.name + " (" + HDS.fmtNumber(x.rows) + ")"; }).join(", ") || t("dataset.none")],
      ["dataset.publisher", m.publisher.name],
      ["dataset.freshness", m.freshness.last_update ? HDS.fmtDateTime(m.freshness.last_update) + " — " + HDS.fmtAge(m.freshness.age_seconds) : t("dataset.none")],
      ["dataset.format", t("format." + m.format)],
      ["dataset.profiles", m.profiles.map(function (p) { return p.name + (p.standard ? " (" + p.standard + ")" : ""); }).join(", ")],
      ["dataset.coding", m.coding_systems.map(function (c) { return c.name; }).join(", ") || t("dataset.none")],
      ["dataset.kanon", k ? t("dataset.kanon_value", { k: k.k_anonymity, quasi: k.quasi_identifiers.join(", "), classes: HDS.fmtNumber(k.classes),
        below: HDS.fmtNumber(k.records_below_k), kk: k.k, share: (100 * k.share_below_k).toFixed(1) }) : t("dataset.none")],
      ["dataset.disclosure", t("dataset.disclosure_value", { n: m.disclosure.min_cell_count, p: m.disclosure.min_patients || "-" })],
      ["dataset.rights", t("rights." + m.tier)],
    ];
    main.appendChild(h("dl", { class: "facts card" }, facts.map(function (f) { return [h("dt", null, t(f[0])), h("dd", null, f[1])]; })));

    main.appendChild(h("h3", null, t("dataset.timeline")));
    if (m.timeline.months && m.timeline.months.length) {
      main.appendChild(HDS.timeline(m.timeline.months, {
        title: t("dataset.timeline_title", { title: m.title }),
        desc: t("dataset.timeline_desc", { column: m.coverage.date_column, n: m.timeline.months.length }),
        caption: t("dataset.timeline_caption", { floor: m.timeline.withheld_below, base: m.timeline.rounded_to, column: m.coverage.date_column }),
      }));
    } else main.appendChild(h("p", null, t("dataset.none")));

    main.appendChild(h("h3", null, t("dataset.columns")));
    const rows = m.columns.map(function (c) {
      return h("tr", null, h("td", null, h("code", null, c.name)), h("td", null, c.type),
        h("td", null, HDS.label(c.meaning)), h("td", null, c.source ? h("code", null, c.source) : "—"),
        h("td", null, h("span", { class: "deid deid-" + c.deid.rule }, deidText(c.deid))), h("td", null, c.coding || ""));
    });
    main.appendChild(HDS.table(t("dataset.columns"), ["col.column", "col.type", "col.meaning", "col.source", "col.deid", "col.coding"], rows, { id: "columns" }));
  };

  // --- request form ------------------------------------------------------------------------------------------
  views.request = async function (main, route) {
    const all = await HDS.datasets();
    const vocab = await HDS.vocab();
    main.appendChild(heading("request.title"));
    main.appendChild(h("p", { class: "lead" }, t("request.lead")));
    const ds = h("select", { required: true }, [h("option", { value: "" }, t("request.choose"))].concat(all.map(function (d) {
      return h("option", { value: d.id, selected: route.params.get("dataset") === d.id }, d.title + " — " + t("tier." + d.tier));
    })));
    const colBox = h("fieldset", { id: "rq-columns", class: "columns", "aria-describedby": "rq-columns-hint rq-columns-error" },
      h("legend", null, t("request.columns")));
    const colHint = h("p", { class: "hint", id: "rq-columns-hint" }, t("request.columns_hint"));
    const colErr = h("p", { class: "field-error", id: "rq-columns-error", hidden: true });
    const purpose = h("textarea", { rows: "3", required: true, maxlength: "4000" });
    const project = h("input", { required: true, maxlength: "200", autocomplete: "off" });
    const basis = h("select", { required: true }, [h("option", { value: "" }, t("request.choose"))].concat(
      vocab.legal_bases.map(function (b) { return h("option", { value: b.id }, HDS.label(b)); })));
    const days = h("input", { type: "number", min: "1", max: "3650", value: "90", required: true, inputmode: "numeric" });
    const submit = h("button", { type: "submit", class: "primary" }, t("request.submit"));
    const msg = h("p", { class: "note", role: "status", id: "rq-msg" });
    const form = h("form", { id: "request-form", class: "card", novalidate: true },
      HDS.field("rq-dataset", "request.dataset", ds),
      h("div", { class: "field" }, colBox, colHint, colErr),
      HDS.field("rq-purpose", "request.purpose", purpose, "request.purpose_hint"),
      HDS.field("rq-project", "request.project", project),
      HDS.field("rq-basis", "request.basis", basis),
      HDS.field("rq-days", "request.days", days, "request.days_hint"),
      h("div", { class: "actions" }, submit), msg);
    main.appendChild(form);

    async function loadColumns() {
      HDS.clear(colBox).appendChild(h("legend", null, t("request.columns")));
      if (!ds.value) { colBox.appendChild(h("p", { class: "muted" }, t("request.pick_dataset"))); return; }
      const meta = await HDS.api("/api/datasets/" + encodeURIComponent(ds.value) + "/metadata");
      const tools = h("div", { class: "actions small" },
        h("button", { type: "button", onclick: function () { colBox.querySelectorAll("input").forEach(function (i) { i.checked = true; }); } }, t("request.all")),
        h("button", { type: "button", onclick: function () { colBox.querySelectorAll("input").forEach(function (i) { i.checked = false; }); } }, t("request.none")));
      colBox.appendChild(tools);
      const grid = h("div", { class: "column-grid" });
      meta.columns.forEach(function (c) {
        const cid = "rq-col-" + c.name;
        grid.appendChild(h("div", { class: "check" },
          h("input", { type: "checkbox", id: cid, value: c.name, name: "column" }),
          h("label", { for: cid }, h("code", null, c.name), " — ", HDS.label(c.meaning), " ", h("span", { class: "deid deid-" + c.deid.rule }, deidText(c.deid)))));
      });
      colBox.appendChild(grid);
    }
    ds.addEventListener("change", function () { loadColumns().catch(function (e) { HDS.note(msg, e.message, "error"); }); });
    await loadColumns();

    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const chosen = Array.from(colBox.querySelectorAll("input:checked")).map(function (i) { return i.value; });
      const n = parseInt(days.value, 10);
      const errors = [
        ["rq-dataset", !ds.value ? t("request.err_dataset") : ""],
        ["rq-purpose", purpose.value.trim().length < 20 ? t("request.err_purpose") : ""],
        ["rq-project", !project.value.trim() ? t("request.err_project") : ""],
        ["rq-basis", !basis.value ? t("request.err_basis") : ""],
        ["rq-days", !(n >= 1 && n <= 3650 && String(n) === days.value.trim()) ? t("request.err_days") : ""],
      ];
      errors.forEach(function (e) { HDS.fieldError(e[0], e[1]); });
      colErr.textContent = ds.value && !chosen.length ? t("request.err_columns") : "";
      colErr.hidden = !colErr.textContent;
      const firstBad = errors.find(function (e) { return e[1]; });
      if (firstBad || !colErr.hidden) {
        HDS.note(msg, t("form.fix"), "error");
        const target = firstBad ? document.getElementById(firstBad[0]) : colBox.querySelector("input");
        if (target) target.focus();
        return;
      }
      const b = vocab.legal_bases.find(function (x) { return x.id === basis.value; });
      const body = { datasets: [ds.value], columns: {}, purpose: purpose.value.trim(), project: project.value.trim(),
        legal_basis: b ? b.en : basis.value, duration_days: n };
      body.columns[ds.value] = chosen;
      submit.disabled = true;
      try {
        const r = await HDS.api("/api/access-requests", { method: "POST", json: body });
        HDS.note(msg, [t("request.done", { id: HDS.shortId(r.id) }), " ", h("a", { href: HDS.href("requests") }, t("request.see"))]);
        msg.dataset.requestId = r.id;
        form.reset();
        await loadColumns();
      } catch (e) {
        HDS.note(msg, t("request.refused", { detail: e.message }), "error");
      } finally { submit.disabled = false; }
    });
  };

  // --- my requests and grants --------------------------------------------------------------------------------
  views.requests = async function (main) {
    await HDS.datasets();
    const requests = await HDS.api("/api/access-requests");
    const grants = await HDS.api("/api/grants");
    main.appendChild(heading("requests.title"));
    const msg = h("p", { class: "note", role: "status" });
    const rows = requests.slice().sort(function (a, b) { return a.created_at < b.created_at ? 1 : -1; }).map(function (r) {
      const grant = grants.find(function (g) { return g.request_id === r.id; });
      const outcome = r.status === "refused" ? h("span", null, t("requests.reason"), " ", h("q", null, r.decision_reason || ""))
        : grant ? h("span", null, t("requests.grant_until", { date: HDS.fmtDateTime(grant.expires_at) }), " ", HDS.badge(grant.status)) : "";
      const actions = h("td");
      if (r.status === "submitted" || r.status === "under_review") {
        actions.appendChild(h("button", { type: "button", onclick: async function () {
          try { await HDS.api("/api/access-requests/" + encodeURIComponent(r.id) + "/withdraw", { method: "POST" }); HDS.render(); }
          catch (e) { HDS.note(msg, e.message, "error"); }
        } }, t("requests.withdraw")));
      }
      if (grant && grant.status === "active") actions.appendChild(h("a", { class: "button", href: HDS.href("query", null, { grant: grant.id }) }, t("requests.query")));
      return h("tr", { "data-request": r.id },
        h("td", null, r.datasets.map(HDS.datasetTitle).join(", "), h("div", { class: "muted" }, t("requests.ref", { id: HDS.shortId(r.id) }))),
        h("td", null, r.project || ""), h("td", null, HDS.fmtDateTime(r.created_at)),
        h("td", null, t("requests.days", { n: r.duration_days })), h("td", null, HDS.badge(r.status)), h("td", null, outcome), actions);
    });
    main.appendChild(rows.length ? HDS.table(t("requests.title"), ["col.datasets", "col.project", "col.submitted", "col.duration",
      "col.status", "col.outcome", "col.actions"], rows, { id: "requests" }) : h("p", null, t("requests.empty"), " ", h("a", { href: HDS.href("request") }, t("nav.request"))));
    main.appendChild(msg);
    main.appendChild(h("h3", null, t("grants.mine")));
    const grows = grants.map(function (g) {
      return h("tr", { "data-grant": g.id }, h("td", null, g.datasets.map(HDS.datasetTitle).join(", ")),
        h("td", null, columnsText(g.columns)), h("td", null, HDS.fmtDateTime(g.expires_at)), h("td", null, HDS.badge(g.status),
          g.revoke_reason ? h("div", { class: "muted" }, t("grants.revoked_because", { reason: g.revoke_reason })) : ""));
    });
    main.appendChild(grows.length ? HDS.table(t("grants.mine"), ["col.datasets", "col.columns", "col.expires", "col.status"], grows, { id: "grants" })
      : h("p", null, t("grants.none")));
  };

  function columnsText(columns) {
    if (!columns) return t("grants.all_columns");
    return Object.keys(columns).map(function (ds) { return columns[ds].join(", "); }).join("; ");
  }
  HDS.columnsText = columnsText;

  // --- query workspace ---------------------------------------------------------------------------------------
  const EXAMPLES = {
    admissions: [
      ["ex.by_ward", "SELECT ward, count(*) AS admissions FROM admissions GROUP BY ward ORDER BY ward"],
      ["ex.by_year_sex", "SELECT birth_year, sex, count(*) AS admissions FROM admissions GROUP BY birth_year, sex ORDER BY birth_year, sex"],
      ["ex.by_month", "SELECT date_trunc('month', admit_date) AS month, count(*) AS admissions FROM admissions GROUP BY month ORDER BY month"],
      ["ex.by_diagnosis", "SELECT diagnosis_code, count(DISTINCT patient_pseudonym) AS patients FROM admissions GROUP BY diagnosis_code ORDER BY patients DESC"],
    ],
    lab_reports: [["ex.by_order", "SELECT order_name, count(*) AS reports FROM lab_reports GROUP BY order_name ORDER BY reports DESC"]],
    clinical_records: [["ex.by_class", "SELECT encounter_class, sex, count(*) AS encounters FROM clinical_records GROUP BY encounter_class, sex"]],
    lab_results: [
      ["ex.lab_rows", "SELECT test_name, value_num, unit, flag FROM lab_results LIMIT 50"],
      ["ex.lab_mean", "SELECT test_name, avg(value_num) AS mean_value, count(*) AS results FROM lab_results GROUP BY test_name"],
    ],
  };

  function historyKey() { return "hds.history." + HDS.state.user; }
  function loadHistory() { try { return JSON.parse(localStorage.getItem(historyKey()) || "[]"); } catch (e) { return []; } }
  function saveHistory(item) {
    const items = [item].concat(loadHistory().filter(function (x) { return x.sql !== item.sql || x.grant !== item.grant; })).slice(0, 20);
    localStorage.setItem(historyKey(), JSON.stringify(items));
  }

  views.query = async function (main, route) {
    const all = await HDS.datasets();
    const grants = (await HDS.api("/api/grants")).filter(function (g) { return g.status === "active"; });
    main.appendChild(heading("query.title"));
    if (!grants.length) {
      main.appendChild(h("p", { class: "note", role: "status" }, t("query.no_grant"), " ", h("a", { href: HDS.href("request") }, t("nav.request"))));
      return;
    }
    const tierOf = function (ds) { const d = all.find(function (x) { return x.id === ds; }); return d ? d.tier : "aggregate"; };
    const grantSel = h("select", null, grants.map(function (g) {
      return h("option", { value: g.id, selected: route.params.get("grant") === g.id },
        g.datasets.map(HDS.datasetTitle).join(", ") + " — " + t("tier." + tierOf(g.datasets[0])) + " — " + t("query.until", { date: HDS.fmtDate(g.expires_at) }));
    }));
    const examples = h("div", { class: "examples", role: "group", "aria-label": t("query.examples") });
    const sql = h("textarea", { rows: "6", spellcheck: "false", class: "code" });
    const run = h("button", { type: "submit", class: "primary" }, t("query.run"));
    const status = h("div", { id: "query-status", class: "note", role: "status" });
    const result = h("div", { id: "result-area" });
    const downloads = h("div", { class: "actions", id: "downloads" });
    const form = h("form", { id: "query-form", class: "card" }, HDS.field("q-grant", "query.grant", grantSel),
      h("p", { class: "label" }, t("query.examples")), examples, HDS.field("q-sql", "query.sql", sql, "query.sql_hint"),
      h("div", { class: "actions" }, run), status);
    main.appendChild(form);
    main.appendChild(result);
    main.appendChild(downloads);
    const hist = h("div", { id: "history" });
    main.appendChild(h("h3", null, t("query.history")));
    main.appendChild(hist);

    function current() { return grants.find(function (g) { return g.id === grantSel.value; }); }
    function fillExamples() {
      HDS.clear(examples);
      const g = current();
      g.datasets.forEach(function (ds) {
        (EXAMPLES[ds] || []).forEach(function (ex) {
          examples.appendChild(h("button", { type: "button", onclick: function () { sql.value = ex[1]; sql.focus(); } }, t(ex[0])));
        });
      });
      if (!sql.value && examples.firstChild) sql.value = (EXAMPLES[g.datasets[0]] || [["", ""]])[0][1];
      history.replaceState(null, "", HDS.href("query", null, { grant: g.id }));
    }
    function showHistory() {
      HDS.clear(hist);
      const items = loadHistory();
      if (!items.length) { hist.appendChild(h("p", { class: "muted" }, t("query.history_empty"))); return; }
      hist.appendChild(h("ol", { class: "history" }, items.map(function (it) {
        return h("li", null, h("button", { type: "button", onclick: function () {
          if (grants.some(function (g) { return g.id === it.grant; })) grantSel.value = it.grant;
          sql.value = it.sql; sql.focus();
        } }, t("query.load")), " ", h("code", null, it.sql), h("span", { class: "muted" }, " — " + HDS.fmtDateTime(it.at) + " — " +
          (it.error ? t("query.hist_refused") : t("query.hist_rows", { n: it.rows, s: it.suppressed }))));
      })));
    }
    grantSel.addEventListener("change", function () { sql.value = ""; fillExamples(); });
    fillExamples();
    showHistory();

    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      HDS.clear(result); HDS.clear(downloads);
      const g = current();
      const text = sql.value;
      if (!text.trim()) { HDS.fieldError("q-sql", t("query.err_empty")); sql.focus(); return; }
      HDS.fieldError("q-sql", "");
      run.disabled = true;
      HDS.note(status, t("query.running"));
      try {
        const r = await HDS.api("/api/query", { method: "POST", json: { grant_id: g.id, sql: text } });
        showResult(r, result);
        const marked = r.suppressed_cells ? r.suppressed_cells.length : r.suppressed;
        HDS.note(status, t("query.summary", { rows: r.row_count, tier: t("tier." + r.tier), s: marked }) + (r.truncated ? " " + t("query.truncated") : ""));
        saveHistory({ grant: g.id, sql: text, at: new Date().toISOString(), rows: r.row_count, suppressed: marked });
        if (r.tier === "extract") offerDownloads(g, text);
      } catch (e) {
        HDS.note(status, t("query.refused", { detail: e.message }), "error");
        saveHistory({ grant: g.id, sql: text, at: new Date().toISOString(), error: true });
      } finally { run.disabled = false; showHistory(); }
    });

    function offerDownloads(g, text) {
      const dmsg = h("p", { class: "note", role: "status" });
      ["csv", "parquet"].forEach(function (fmt) {
        downloads.appendChild(h("button", { type: "button", "data-format": fmt, onclick: async function () {
          try {
            const res = await HDS.api("/api/exports", { method: "POST", raw: true, json: { grant_id: g.id, sql: text, format: fmt } });
            HDS.saveBlob(await res.blob(), "extract." + fmt);
            HDS.note(dmsg, t("query.downloaded", { fmt: fmt.toUpperCase() }));
          } catch (e) { HDS.note(dmsg, e.message, "error"); }
        } }, t("query.download_" + fmt)));
      });
      downloads.appendChild(dmsg);
    }
  };

  // Suppressed cells are marked (symbol, text, pattern) and explained; a real NULL is an empty cell.
  function showResult(r, box) {
    const masked = new Set((r.suppressed_cells || []).map(function (c) { return c[0] + ":" + c[1]; }));
    const rows = r.rows.map(function (row, i) {
      return h("tr", null, row.map(function (v, j) {
        if (masked.has(i + ":" + j)) {
          return h("td", { class: "suppressed", title: t("query.suppressed_title") }, h("span", { "aria-hidden": "true" }, "▨ "), t("query.suppressed"));
        }
        return h("td", { class: typeof v === "number" ? "num" : null }, v === null ? "" : typeof v === "number" ? HDS.fmtNumber(v) : String(v));
      }));
    });
    const thead = h("thead", null, h("tr", null, r.columns.map(function (c) { return h("th", { scope: "col" }, c); })));
    box.appendChild(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("query.result") },
      h("table", { id: "result" }, h("caption", { class: "visually-hidden" }, t("query.result")), thead, h("tbody", null, rows))));
    if (r.suppressed > 0 || masked.size) {
      box.appendChild(h("p", { class: "legend" }, h("span", { class: "swatch suppressed", "aria-hidden": "true" }, "▨"), " ",
        t("query.legend", { n: masked.size || r.suppressed })));
    }
    (r.notes || []).forEach(function (n) { box.appendChild(h("p", { class: "muted" }, n)); });
  }
  HDS.showResult = showResult;
})();
