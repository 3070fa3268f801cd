// The record list of report.html: filter, search, paginate. Model text only ever goes in through
// textContent (never innerHTML), so a response that contains markup is shown as text.
(function () {
  "use strict";
  var started = performance.now();
  var records = JSON.parse(document.getElementById("records-data").textContent);
  var PAGE_SIZE = 25;
  var REMOVED = 1, ADDED = 2, VENEER = 4, FLAGGED = 8;
  var byId = function (id) { return document.getElementById(id); };
  var controls = { verdict: byId("f-verdict"), principle: byId("f-principle"), review: byId("f-review"), q: byId("f-search") };
  var list = byId("records"), shown = byId("shown");
  var state = { verdict: "", principle: "", review: false, q: "", page: 1 };
  var haystacks = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function segmentsText(segments) {
    if (!segments) return "";
    var parts = [];
    for (var i = 0; i < segments.length; i++) parts.push(segments[i][0]);
    return parts.join("");
  }

  function haystack(i) {
    if (haystacks === null) {
      haystacks = records.map(function (r) {
        return [r.id, r.prompt, segmentsText(r.draft), segmentsText(r.revision), r.reasons.join(" ")].join("\n").toLowerCase();
      });
    }
    return haystacks[i];
  }

  function principleOf(r, id) {
    for (var i = 0; i < r.principles.length; i++) if (r.principles[i].id === id) return r.principles[i];
    return null;
  }

  // With a principle chosen, the verdict filter applies to that principle's own verdict.
  function matches(r, i, terms) {
    var subject = r;
    if (state.principle) {
      subject = principleOf(r, state.principle);
      if (!subject) return false;
    }
    if (state.verdict && subject.verdict !== state.verdict) return false;
    if (state.review && !subject.needs_review) return false;
    for (var t = 0; t < terms.length; t++) if (haystack(i).indexOf(terms[t]) < 0) return false;
    return true;
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    state.verdict = params.get("verdict") || "";
    state.principle = params.get("principle") || "";
    state.review = params.get("review") === "1";
    state.q = params.get("q") || "";
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    controls.verdict.value = state.verdict;
    controls.principle.value = state.principle;
    controls.review.checked = state.review;
    controls.q.value = state.q;
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (state.verdict) params.set("verdict", state.verdict);
    if (state.principle) params.set("principle", state.principle);
    if (state.review) params.set("review", "1");
    if (state.q) params.set("q", state.q);
    if (state.page > 1) params.set("page", String(state.page));
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function textBlock(segments) {
    var pre = el("p", "text");
    for (var i = 0; i < segments.length; i++) {
      var seg = segments[i], flags = seg[1];
      if (!flags) { pre.appendChild(document.createTextNode(seg[0])); continue; }
      var cls = [];
      if (flags & REMOVED) cls.push("del");
      if (flags & ADDED) cls.push("ins");
      if (flags & VENEER) cls.push("ven");
      if (flags & FLAGGED) cls.push("flag");
      var span = el("span", cls.join(" "), seg[0]);
      if (seg[2]) span.title = seg[2];
      pre.appendChild(span);
    }
    return pre;
  }

  function quote(text, missing) {
    var q = el("div", missing ? "quote missing" : "quote", "“" + text + "”");
    if (missing) q.appendChild(el("span", "small", "  (not in the text: counts for nothing)"));
    return q;
  }

  // A debate as an exchange: each argument in speaking order with its quotes (a struck one says why the judge never
  // read it), then the judge's pick with each side speaking first, and the outcome.
  function debate(about, d) {
    var box = el("div", "debate");
    box.appendChild(el("h4", null, "Debate on " + about + ": " + (d.outcome === "undecided" ? "undecided" : d.outcome + " wins")));
    d.arguments.forEach(function (a) {
      var turn = el("div", "turn " + a.side + (a.struck || a.error ? " struck" : ""));
      turn.appendChild(el("div", "who", a.who));
      if (a.error) turn.appendChild(el("div", "small", "failed: " + a.error));
      else turn.appendChild(el("div", null, a.argument));
      a.quotes.forEach(function (q) { turn.appendChild(quote(q.quote, !q.found)); });
      if (a.struck) turn.appendChild(el("div", "small", "struck before the judge read it: " + a.struck));
      box.appendChild(turn);
    });
    d.picks.forEach(function (p) {
      var said = p.error ? "failed: " + p.error : "picks " + p.pick + (p.counted !== p.pick ? ", counted as " + p.counted : "");
      var line = el("div", "turn judge");
      line.appendChild(el("div", "who", "judge, " + p.first + " speaking first"));
      line.appendChild(el("div", null, said));
      if (p.quote) line.appendChild(quote(p.quote, p.found === false));
      box.appendChild(line);
    });
    return box;
  }

  function card(r) {
    var rec = el("details", "rec");
    rec.open = true;
    rec.style.borderLeftColor = "var(--" + r.verdict + ", var(--other))";  // a verdict with no colour of its own: grey
    rec.dataset.verdict = r.verdict;
    var summary = el("summary");
    summary.appendChild(el("span", "badge v-" + r.verdict, r.leaning ? r.verdict + ", leaning " + r.leaning : r.verdict));
    summary.appendChild(el("code", "rec-id", r.id));
    if (r.confidence !== null && r.confidence !== undefined) summary.appendChild(el("span", "small", "confidence " + r.confidence.toFixed(2)));
    if (r.human_verdict) summary.appendChild(el("span", "badge v-" + r.human_verdict, "people: " + r.human_verdict));
    if (r.needs_review && !r.human_verdict) summary.appendChild(el("span", "review", "needs review"));
    r.principles.forEach(function (p) { summary.appendChild(el("span", "chip", p.id + ": " + p.verdict)); });
    rec.appendChild(summary);

    var body = el("div", "body");
    var prompt = el("div", "prompt");
    prompt.appendChild(el("h4", null, "Prompt"));
    prompt.appendChild(el("div", null, r.prompt));
    body.appendChild(prompt);

    var diff = el("div", "diff");
    var left = el("div"), right = el("div");
    left.appendChild(el("h4", null, "Draft"));
    left.appendChild(r.draft ? textBlock(r.draft) : el("p", "text small", "(no draft)"));
    right.appendChild(el("h4", null, "Revision"));
    right.appendChild(textBlock(r.revision));
    diff.appendChild(left);
    diff.appendChild(right);
    body.appendChild(diff);

    var why = el("div", "why");
    why.appendChild(el("h4", null, "Why " + r.verdict));
    var ul = el("ul");
    r.reasons.forEach(function (reason) { ul.appendChild(el("li", null, reason)); });
    why.appendChild(ul);
    if (r.flags.length) {
      why.appendChild(el("h4", null, "The critique flagged"));
      r.flags.forEach(function (f) {
        var q = quote(f.quote || "(no quote)", false);
        q.insertBefore(document.createTextNode(" "), q.firstChild);
        q.insertBefore(el("span", "chip", f.principle), q.firstChild);
        if (f.explanation) q.appendChild(el("span", "small", " — " + f.explanation));
        why.appendChild(q);
      });
    }
    r.principles.forEach(function (p) {
      var ownReasons = p.reasons.filter(function (reason) { return r.reasons.indexOf(reason) < 0; });
      if (!ownReasons.length && !p.evidence.length && !p.checks.length) return;
      why.appendChild(el("h4", null, p.id + ": " + p.verdict + (p.needs_review ? " (needs review)" : "")));
      if (ownReasons.length) {
        var pul = el("ul");
        ownReasons.forEach(function (reason) { pul.appendChild(el("li", null, reason)); });
        why.appendChild(pul);
      }
      p.evidence.forEach(function (e) {
        var q = quote(e.quote, false);
        q.appendChild(el("span", "small", "  (" + e.source + " evidence, in the " + e.where + ")"));
        why.appendChild(q);
      });
      p.checks.forEach(function (c) { why.appendChild(quote(c.question + ": " + c.quote, c.found === false)); });
      if (p.debate) why.appendChild(debate(p.id, p.debate));
    });
    r.judge_checks.forEach(function (c) { why.appendChild(quote(c.question + ": " + c.quote, c.found === false)); });
    if (r.judge_debate) why.appendChild(debate("the whole constitution", r.judge_debate));
    body.appendChild(why);
    rec.appendChild(body);
    return rec;
  }

  function render() {
    var t0 = performance.now();
    var terms = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    var hits = [];
    for (var i = 0; i < records.length; i++) if (matches(records[i], i, terms)) hits.push(i);
    var pages = Math.max(1, Math.ceil(hits.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages);
    var from = (state.page - 1) * PAGE_SIZE;
    var fragment = document.createDocumentFragment();
    hits.slice(from, from + PAGE_SIZE).forEach(function (index) { fragment.appendChild(card(records[index])); });
    list.replaceChildren(fragment);
    // One line says what is shown, or that nothing matches; the pagers only appear when there is a page to turn to.
    shown.textContent = hits.length
      ? "Showing " + (from + 1) + "–" + Math.min(from + PAGE_SIZE, hits.length) + " of " + hits.length + " matching records (" + records.length + " in all)"
      : "No record matches these filters (" + records.length + " records in all).";
    shown.dataset.matching = String(hits.length);
    document.querySelectorAll(".pager").forEach(function (node) { node.hidden = pages <= 1; });
    document.querySelectorAll(".page-of").forEach(function (node) { node.textContent = "page " + state.page + " of " + pages; });
    document.querySelectorAll(".prev").forEach(function (b) { b.disabled = state.page <= 1; });
    document.querySelectorAll(".next").forEach(function (b) { b.disabled = state.page >= pages; });
    document.body.dataset.renderMs = (performance.now() - t0).toFixed(1);
  }

  function update(resetPage) {
    state.verdict = controls.verdict.value;
    state.principle = controls.principle.value;
    state.review = controls.review.checked;
    state.q = controls.q.value.trim();
    if (resetPage) state.page = 1;
    writeHash();
    render();
  }

  var typing = null;
  controls.verdict.addEventListener("change", function () { update(true); });
  controls.principle.addEventListener("change", function () { update(true); });
  controls.review.addEventListener("change", function () { update(true); });
  controls.q.addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(function () { update(true); }, 150); });
  document.querySelectorAll(".prev").forEach(function (b) { b.addEventListener("click", function () { state.page -= 1; writeHash(); render(); }); });
  document.querySelectorAll(".next").forEach(function (b) { b.addEventListener("click", function () { state.page += 1; writeHash(); render(); }); });
  window.addEventListener("hashchange", function () { readHash(); render(); });

  readHash();
  render();
  document.body.dataset.loadMs = (performance.now() - started).toFixed(1);
  document.body.dataset.ready = "1";
})();
