// Data-authority and hospital views: the review queue and a request's review page (steward review, approve
// with narrowing and confirmation, refuse with a reason), grants with revoke, the audit browser, feed health.
"use strict";

(function () {
  const HDS = window.HDS, h = HDS.h, t = HDS.t;
  const views = (HDS.views = HDS.views || {});

  function heading(key, vars) { return h("h2", { tabindex: "-1" }, t(key, vars)); }
  function basisLabel(vocab, text) {
    const b = (vocab.legal_bases || []).find(function (x) { return x.en === text || x.id === text; });
    return b ? HDS.label(b) : (text || "—");
  }

  // --- review queue ------------------------------------------------------------------------------------------
  views.review = async function (main, route) {
    if (route.arg) return reviewOne(main, route.arg);
    const all = await HDS.datasets();
    const vocab = await HDS.vocab();
    const show = route.params.get("status") || "open";
    const requests = await HDS.api("/api/access-requests");
    main.appendChild(heading("review.title"));
    const sel = h("select", null, ["open", "all", "approved", "refused", "withdrawn"].map(function (s) {
      return h("option", { value: s, selected: s === show }, t("review.show." + s));
    }));
    sel.addEventListener("change", function () { HDS.go("review", null, { status: sel.value }, true); });
    main.appendChild(h("form", { class: "filters card" }, HDS.field("rv-status", "review.show", sel)));
    const open = function (r) { return r.status === "submitted" || r.status === "under_review"; };
    const chosen = requests.filter(function (r) { return show === "all" ? true : show === "open" ? open(r) : r.status === show; })
      .sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
    const tierOf = function (ds) { const d = all.find(function (x) { return x.id === ds; }); return d ? d.tier : ""; };
    const rows = chosen.map(function (r) {
      return h("tr", { "data-request": r.id },
        h("td", null, h("a", { href: HDS.href("review", r.id) }, r.project || t("review.no_project")),
          h("div", { class: "muted" }, t("requests.ref", { id: HDS.shortId(r.id) }))),
        h("td", null, r.requester.username),
        h("td", null, r.datasets.map(function (d) { return HDS.datasetTitle(d) + " (" + t("tier." + tierOf(d)) + ")"; }).join(", ")),
        h("td", null, r.columns ? Object.values(r.columns).flat().join(", ") : t("grants.all_columns")),
        h("td", null, r.purpose),
        h("td", null, basisLabel(vocab, r.legal_basis)),
        h("td", null, t("requests.days", { n: r.duration_days })),
        h("td", null, HDS.fmtDateTime(r.created_at)),
        h("td", null, HDS.badge(r.status)));
    });
    main.appendChild(rows.length ? HDS.table(t("review.title"), ["col.project", "col.requester", "col.datasets", "col.columns",
      "col.purpose", "col.basis", "col.duration", "col.submitted", "col.status"], rows, { id: "queue" })
      : h("p", { class: "note", role: "status" }, t("review.empty")));
  };

  async function reviewOne(main, id) {
    await HDS.datasets();
    const vocab = await HDS.vocab();
    const r = await HDS.api("/api/access-requests/" + encodeURIComponent(id));
    main.appendChild(h("p", { class: "crumbs" }, h("a", { href: HDS.href("review") }, t("nav.review")), " / ", r.project || HDS.shortId(r.id)));
    main.appendChild(heading("review.one", { project: r.project || HDS.shortId(r.id) }));
    const metas = {};
    for (const ds of r.datasets) metas[ds] = await HDS.api("/api/datasets/" + encodeURIComponent(ds) + "/metadata");

    const asked = h("dl", { class: "facts" },
      h("dt", null, t("col.requester")), h("dd", null, r.requester.username),
      h("dt", null, t("col.project")), h("dd", null, r.project || "—"),
      h("dt", null, t("col.purpose")), h("dd", null, r.purpose),
      h("dt", null, t("col.basis")), h("dd", null, basisLabel(vocab, r.legal_basis)),
      h("dt", null, t("col.duration")), h("dd", null, t("requests.days", { n: r.duration_days })),
      h("dt", null, t("col.submitted")), h("dd", null, HDS.fmtDateTime(r.created_at)),
      h("dt", null, t("col.status")), h("dd", null, HDS.badge(r.status), r.decision_reason ? h("div", null, h("q", null, r.decision_reason)) : ""));
    const side = h("div", { class: "side-by-side" },
      h("section", { class: "card", "aria-labelledby": "asked-h" }, h("h3", { id: "asked-h" }, t("review.asked")), asked),
      h("section", { class: "card", "aria-labelledby": "ds-h" }, h("h3", { id: "ds-h" }, t("review.datasets")),
        r.datasets.map(function (ds) {
          const m = metas[ds];
          const want = r.columns && r.columns[ds] ? r.columns[ds] : m.columns.map(function (c) { return c.name; });
          return h("div", null, h("p", null, h("a", { href: HDS.href("dataset", ds) }, m.title), " — ",
            h("span", { class: "tier tier-" + m.tier }, t("tier." + m.tier)), " ", t("tier." + m.tier + ".explain")),
            HDS.table(m.title, ["col.column", "col.deid", "review.asked_col"], m.columns.map(function (c) {
              return h("tr", { class: want.includes(c.name) ? "asked" : null }, h("td", null, h("code", null, c.name)),
                h("td", null, t("deid." + c.deid.rule)), h("td", null, want.includes(c.name) ? t("review.yes") : t("review.no")));
            })));
        })));
    main.appendChild(side);
    main.appendChild(h("h3", null, t("review.history")));
    main.appendChild(h("ol", { class: "history" }, r.history.map(function (e) {
      return h("li", null, HDS.fmtDateTime(e.at), " — ", e.actor, " — ", t("action." + e.action), e.note ? h("span", null, " — ", h("q", null, e.note)) : "");
    })));
    const open = r.status === "submitted" || r.status === "under_review";
    if (!open) { main.appendChild(h("p", { class: "note", role: "status" }, t("review.closed"))); return; }
    if (HDS.has("data-steward") && r.status === "submitted") main.appendChild(stewardForm(r));
    if (HDS.has("authority-admin")) { main.appendChild(approveForm(r, metas)); main.appendChild(refuseForm(r)); }
  }

  function stewardForm(r) {
    const note = h("textarea", { rows: "2", maxlength: "4000" });
    const msg = h("p", { class: "note", role: "status" });
    const form = h("form", { id: "steward-form", class: "card", novalidate: true }, h("h3", null, t("review.steward")),
      HDS.field("sv-note", "review.note", note, "review.note_hint"),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("review.mark"))), msg);
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      try {
        await HDS.api("/api/access-requests/" + encodeURIComponent(r.id) + "/review", { method: "POST", json: { note: note.value.trim() || null } });
        HDS.render();
      } catch (e) { HDS.note(msg, e.message, "error"); }
    });
    return form;
  }

  function approveForm(r, metas) {
    const boxes = h("div");
    r.datasets.forEach(function (ds) {
      const m = metas[ds];
      const want = r.columns && r.columns[ds] ? r.columns[ds] : m.columns.map(function (c) { return c.name; });
      boxes.appendChild(h("fieldset", { class: "columns", "data-dataset": ds }, h("legend", null, t("review.grant_columns", { title: m.title })),
        h("div", { class: "column-grid" }, want.map(function (c) {
          const cid = "ap-" + ds + "-" + c;
          return h("div", { class: "check" }, h("input", { type: "checkbox", id: cid, value: c, checked: true }), h("label", { for: cid }, h("code", null, c)));
        }))));
    });
    const colErr = h("p", { class: "field-error", id: "ap-columns-error", hidden: true });
    const days = h("input", { type: "number", min: "1", max: String(r.duration_days), value: String(r.duration_days), inputmode: "numeric" });
    const note = h("textarea", { rows: "2", maxlength: "4000" });
    const msg = h("p", { class: "note", role: "status", id: "ap-msg" });
    const form = h("form", { id: "approve-form", class: "card", novalidate: true }, h("h3", null, t("review.approve")),
      h("p", { class: "hint" }, t("review.narrow_hint")), boxes, colErr,
      HDS.field("ap-days", "review.days", days, null), HDS.field("ap-note", "review.note", note),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("review.approve_btn"))), msg);
    const dialog = h("dialog", { id: "confirm", "aria-labelledby": "confirm-h" });
    form.appendChild(dialog);

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const n = parseInt(days.value, 10);
      HDS.fieldError("ap-days", n >= 1 && n <= r.duration_days && String(n) === days.value.trim() ? "" : t("review.err_days", { max: r.duration_days }));
      const columns = {};
      let empty = false;
      boxes.querySelectorAll("fieldset").forEach(function (fs) {
        const picked = Array.from(fs.querySelectorAll("input:checked")).map(function (i) { return i.value; });
        if (!picked.length) empty = true;
        columns[fs.dataset.dataset] = picked;
      });
      colErr.textContent = empty ? t("review.err_columns") : "";
      colErr.hidden = !empty;
      if (empty || document.getElementById("ap-days").getAttribute("aria-invalid")) { HDS.note(msg, t("form.fix"), "error"); return; }
      const count = Object.values(columns).flat().length;
      HDS.clear(dialog);
      const yes = h("button", { type: "button", class: "primary", id: "confirm-yes" }, t("review.confirm_yes"));
      const no = h("button", { type: "button", id: "confirm-no" }, t("review.confirm_no"));
      dialog.appendChild(h("h3", { id: "confirm-h" }, t("review.confirm_title")));
      dialog.appendChild(h("p", null, t("review.confirm_text", { n: count, days: n, who: r.requester.username,
        datasets: r.datasets.map(HDS.datasetTitle).join(", ") })));
      dialog.appendChild(h("div", { class: "actions" }, yes, no));
      no.addEventListener("click", function () { dialog.close(); HDS.note(msg, t("review.cancelled")); });
      yes.addEventListener("click", async function () {
        dialog.close();
        try {
          const g = await HDS.api("/api/access-requests/" + encodeURIComponent(r.id) + "/approve", { method: "POST",
            json: { columns: columns, duration_days: n, note: note.value.trim() || null } });
          HDS.note(msg, t("review.approved", { until: HDS.fmtDateTime(g.expires_at) }));
          setTimeout(function () { HDS.render(); }, 0);
        } catch (e) { HDS.note(msg, e.message, "error"); }
      });
      dialog.showModal();
      yes.focus();
    });
    return form;
  }

  function refuseForm(r) {
    const reason = h("textarea", { rows: "3", maxlength: "4000", required: true });
    const msg = h("p", { class: "note", role: "status" });
    const form = h("form", { id: "refuse-form", class: "card", novalidate: true }, h("h3", null, t("review.refuse")),
      HDS.field("rf-reason", "review.reason", reason, "review.reason_hint"),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, t("review.refuse_btn"))), msg);
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (reason.value.trim().length < 5) { HDS.fieldError("rf-reason", t("review.err_reason")); reason.focus(); return; }
      HDS.fieldError("rf-reason", "");
      try {
        await HDS.api("/api/access-requests/" + encodeURIComponent(r.id) + "/refuse", { method: "POST", json: { reason: reason.value.trim() } });
        HDS.render();
      } catch (e) { HDS.note(msg, e.message, "error"); }
    });
    return form;
  }

  // --- grants (admin) ----------------------------------------------------------------------------------------
  views.grants = async function (main) {
    await HDS.datasets();
    const grants = await HDS.api("/api/grants");
    main.appendChild(heading("grants.title"));
    const rows = grants.slice().sort(function (a, b) { return a.created_at < b.created_at ? 1 : -1; }).map(function (g) {
      const cell = h("td");
      if (g.status === "active") {
        const reason = h("input", { maxlength: "4000" });
        const rid = "rv-" + g.id;
        const msg = h("p", { class: "note", role: "status" });
        const form = h("form", { class: "inline", novalidate: true, "data-grant": g.id }, HDS.field(rid, "grants.revoke_reason", reason),
          h("button", { type: "submit", class: "danger" }, t("grants.revoke")), msg);
        form.addEventListener("submit", async function (ev) {
          ev.preventDefault();
          if (reason.value.trim().length < 3) { HDS.fieldError(rid, t("grants.err_reason")); reason.focus(); return; }
          HDS.fieldError(rid, "");
          if (!form.dataset.armed) {  // a second press confirms
            form.dataset.armed = "1";
            HDS.note(msg, t("grants.confirm"), "warn");
            form.querySelector("button").textContent = t("grants.confirm_btn");
            return;
          }
          try {
            await HDS.api("/api/grants/" + encodeURIComponent(g.id) + "/revoke", { method: "POST", json: { reason: reason.value.trim() } });
            HDS.render();
          } catch (e) { HDS.note(msg, e.message, "error"); }
        });
        cell.appendChild(form);
      } else if (g.revoke_reason) cell.appendChild(h("q", null, g.revoke_reason));
      return h("tr", { "data-grant": g.id }, h("td", null, g.grantee.username), h("td", null, g.datasets.map(HDS.datasetTitle).join(", ")),
        h("td", null, HDS.columnsText(g.columns)), h("td", null, HDS.fmtDateTime(g.created_at)), h("td", null, HDS.fmtDateTime(g.expires_at)),
        h("td", null, HDS.badge(g.status)), cell);
    });
    main.appendChild(rows.length ? HDS.table(t("grants.title"), ["col.grantee", "col.datasets", "col.columns", "col.created", "col.expires",
      "col.status", "col.actions"], rows, { id: "all-grants" }) : h("p", null, t("grants.none")));
  };

  // --- audit browser -----------------------------------------------------------------------------------------
  const ACTIONS = ["login", "request.submitted", "request.under_review", "request.approved", "request.refused",
    "request.withdrawn", "grant.created", "grant.revoked", "grant.expired", "query", "query.refused", "export"];
  const PAGE = 25;

  views.audit = async function (main, route) {
    const p = route.params;
    main.appendChild(heading("audit.title"));
    const chain = h("p", { id: "chain", class: "note", role: "status" }, t("audit.checking"));
    main.appendChild(chain);
    const action = h("select", null, [h("option", { value: "" }, t("filter.any"))].concat(ACTIONS.map(function (a) {
      return h("option", { value: a, selected: p.get("action") === a }, t("auditaction." + a));
    })));
    const actor = h("input", { value: p.get("actor") || "", autocomplete: "off" });
    const subject = h("input", { value: p.get("subject") || "", autocomplete: "off" });
    const form = h("form", { class: "filters card", id: "audit-filters" }, HDS.field("au-action", "audit.action", action),
      HDS.field("au-actor", "audit.actor", actor), HDS.field("au-subject", "audit.subject", subject, "audit.subject_hint"),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("audit.filter"))));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      HDS.go("audit", null, { action: action.value, actor: actor.value.trim(), subject: subject.value.trim() });
    });
    main.appendChild(form);
    const filters = { action: p.get("action") || "", actor: p.get("actor") || "", subject: p.get("subject") || "" };
    const qs = function (extra) {
      const o = Object.assign({}, filters, extra);
      return new URLSearchParams(Object.fromEntries(Object.entries(o).filter(function (e) { return e[1] !== "" && e[1] !== null && e[1] !== undefined; }))).toString();
    };
    const before = p.get("before");
    const page = await HDS.api("/api/audit?" + qs({ order: "desc", limit: PAGE, before_seq: before }));
    const recs = page.records;
    const info = h("p", { id: "audit-range", role: "status" }, recs.length ? t("audit.range", { from: recs[0].seq, to: recs[recs.length - 1].seq, total: page.total, all: page.total_all })
      : t("audit.empty"));
    const rows = [];
    recs.forEach(function (rec) {
      const did = "au-d-" + rec.seq;
      const btn = h("button", { type: "button", "aria-expanded": "false", "aria-controls": did }, t("audit.details"));
      const detail = h("tr", { id: did, hidden: true, class: "details" }, h("td", { colspan: "6" },
        h("dl", { class: "facts" }, Object.keys(rec.details || {}).sort().map(function (k) {
          const v = rec.details[k];
          return [h("dt", null, k), h("dd", null, typeof v === "object" ? JSON.stringify(v) : String(v))];
        }), h("dt", null, "hash"), h("dd", null, h("code", null, rec.hash || "")))));
      btn.addEventListener("click", function () {
        const openNow = detail.hidden;
        detail.hidden = !openNow;
        btn.setAttribute("aria-expanded", String(openNow));
      });
      rows.push(h("tr", { "data-seq": rec.seq }, h("td", { class: "num" }, String(rec.seq)), h("td", null, HDS.fmtDateTime(rec.ts)),
        h("td", null, rec.actor), h("td", null, ACTIONS.includes(rec.action) ? t("auditaction." + rec.action) : rec.action), h("td", null, (rec.subjects || []).join(" ")), h("td", null, btn)));
      rows.push(detail);
    });
    main.appendChild(info);
    main.appendChild(HDS.table(t("audit.title"), ["col.seq", "col.time", "col.actor", "col.action", "col.subjects", "col.details"], rows, { id: "audit" }));
    const newer = h("button", { type: "button", id: "audit-newer", disabled: !before }, t("audit.newer"));
    const older = h("button", { type: "button", id: "audit-older", disabled: page.next_before_seq === null }, t("audit.older"));
    const newest = h("button", { type: "button", id: "audit-newest", disabled: !before }, t("audit.newest"));
    newer.addEventListener("click", async function () {
      const top = recs.length ? recs[0].seq : 0;
      const up = await HDS.api("/api/audit?" + qs({ order: "asc", limit: PAGE, after_seq: top }));
      const seqs = up.records.map(function (x) { return x.seq; });
      const nb = up.records.length === PAGE && up.next_after_seq !== null ? Math.max.apply(null, seqs) + 1 : null;
      HDS.go("audit", null, Object.assign({}, filters, { before: nb }));
    });
    older.addEventListener("click", function () { HDS.go("audit", null, Object.assign({}, filters, { before: page.next_before_seq + 0 })); });
    newest.addEventListener("click", function () { HDS.go("audit", null, filters); });
    main.appendChild(h("nav", { class: "pager", "aria-label": t("audit.pager") }, newest, newer, older));
    try {
      const v = await HDS.api("/api/audit/verify");
      HDS.note(chain, v.ok ? t("audit.intact", { n: v.records }) : t("audit.tampered", { seq: v.first_bad_seq, problem: v.problem }), v.ok ? "ok" : "error");
    } catch (e) { HDS.note(chain, e.message, "error"); }
  };

  // --- feed health -------------------------------------------------------------------------------------------
  views.feeds = async function (main, route) {
    const p = route.params;
    const operator = HDS.has("authority-admin") || HDS.has("data-steward");
    const hospital = operator ? p.get("hospital") || "" : HDS.state.hospital;
    const health = await HDS.api("/api/feeds/health" + (operator && hospital ? "?hospital=" + encodeURIComponent(hospital) : ""));
    main.appendChild(heading(operator ? "feeds.title" : "feeds.mine", { hospital: HDS.state.hospital || "" }));
    if (health.loader) {
      main.appendChild(h("p", { class: "note", role: "status" }, t("feeds.loader", { loaded: HDS.fmtNumber(health.loader.loaded),
        rejected: HDS.fmtNumber(health.loader.rejected), lag: HDS.fmtNumber(health.loader.lag) })));
    }
    if (!health.dead_letters_available) main.appendChild(h("p", { class: "note warn" }, t("feeds.no_dlq")));
    const byHospital = {};
    health.feeds.forEach(function (f) { (byHospital[f.hospital] = byHospital[f.hospital] || []).push(f); });
    Object.keys(byHospital).sort().forEach(function (hid) {
      const feeds = byHospital[hid];
      main.appendChild(h("h3", null, feeds[0].hospital_name));
      main.appendChild(HDS.table(feeds[0].hospital_name, ["col.feed", "col.format", "col.dataset", "col.records", "col.per_minute",
        "col.last_seen", "col.dead"], feeds.map(function (f) {
        const reasons = Object.keys(f.dead_letters_by_reason).map(function (r) { return t("reason." + r) + ": " + f.dead_letters_by_reason[r]; }).join(", ");
        return h("tr", { "data-feed": f.hospital + "/" + f.feed }, h("td", null, f.feed), h("td", null, t("format." + f.format)),
          h("td", null, h("a", { href: HDS.href("dataset", f.dataset) }, f.dataset)), h("td", { class: "num" }, HDS.fmtNumber(f.records)),
          h("td", { class: "num" }, HDS.fmtNumber(f.per_minute)), h("td", null, f.last_seen ? HDS.fmtDateTime(f.last_seen) : t("feeds.never")),
          h("td", null, f.dead_lettered ? h("a", { href: HDS.href("feeds", null, { hospital: operator ? f.hospital : null, feed: f.feed, dl: 1 }) },
            HDS.fmtNumber(f.dead_lettered) + " — " + reasons) : "0"));
      })));
    });
    main.appendChild(h("h3", { id: "dl-h" }, t("feeds.dead_letters")));
    const params = new URLSearchParams();
    if (hospital) params.set("hospital", hospital);
    if (p.get("feed")) params.set("feed", p.get("feed"));
    const dead = await HDS.api("/api/feeds/dead-letters?" + params.toString());
    if (!dead.dead_letters.length) { main.appendChild(h("p", { class: "note", role: "status" }, t("feeds.no_dead"))); return; }
    main.appendChild(h("p", { class: "hint" }, t("feeds.dl_hint")));
    main.appendChild(HDS.table(t("feeds.dead_letters"), ["col.failed", "col.hospital", "col.feed", "col.reason", "col.position", "col.size", "col.fix"],
      dead.dead_letters.map(function (d) {
        return h("tr", { "data-reason": d.reason }, h("td", null, HDS.fmtDateTime(d.failed_at)), h("td", null, d.hospital), h("td", null, d.feed),
          h("td", null, t("reason." + d.reason), d.detail ? h("div", { class: "muted" }, d.detail) : ""),
          h("td", null, t("feeds.position", { p: d.source_partition === null ? "?" : d.source_partition, o: d.source_offset === null ? "?" : d.source_offset })),
          h("td", { class: "num" }, t("feeds.bytes", { n: HDS.fmtNumber(d.bytes) })), h("td", null, t("fix." + d.reason)));
      }), { id: "dead-letters" }));
    if (p.get("dl")) setTimeout(function () { const el = document.getElementById("dl-h"); if (el) el.scrollIntoView(); }, 0);
  };
})();
