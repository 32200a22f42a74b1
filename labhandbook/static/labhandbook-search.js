// labhandbook: the search page, on Pagefind (index in <site>/pagefind/, built by labhandbook.search).
// Results are typed ("Person", "Paper · 2021"), ranked by Pagefind with the page's own weights,
// and show Pagefind's excerpt of the page's own content with whole query words marked.
// From file:// the page keeps Sphinx's own search (loaded by the template), as browsers refuse
// Pagefind's module and WebAssembly there.
(() => {
  "use strict";
  const PAGE_SIZE = 8;  // results whose text (a Pagefind fragment each) is fetched at once
  // Pagefind ranks the results of both indexes (below) on one list by score, but each index
  // weighs a word by how rare it is among its own pages: a member's name or an area's title
  // or topic, frequent among the site's few pages, weighs less there than in one index of
  // every page. The page of the person or area a query names is lifted back above the papers
  // that mention them (the lh_name and lh_topics meta of labhandbook.search; Pagefind's
  // ranking option metaWeights).
  const NAME_WEIGHT = 40;

  // Sphinx's own search (source pages only), for file:// and when Pagefind cannot load.
  function sphinxSearch(root) {
    const box = document.getElementById("lh-search");
    if (box) box.hidden = true;
    const results = document.getElementById("search-results");
    if (results) results.hidden = false;
    for (const src of ["_static/searchtools.js", "_static/language_data.js", "searchindex.js"]) {
      const script = document.createElement("script");
      script.src = new URL(src, root).href;
      script.async = false;  // in this order
      document.head.appendChild(script);
    }
  }

  function start() {
    const box = document.getElementById("lh-search");
    const form = document.querySelector(".bd-search-container form.bd-search");
    const field = form && form.querySelector("input[name=q]");
    const root = new URL(document.documentElement.dataset.content_root || "./", location.href);
    if (!box || !field) return;
    if (location.protocol === "file:") {
      sphinxSearch(root);
      return;
    }
    const status = box.querySelector(".lh-search-status");
    const list = box.querySelector(".lh-search-results");
    const more = box.querySelector(".lh-search-more");
    const sphinxResults = document.getElementById("search-results");
    if (sphinxResults) sphinxResults.hidden = true;
    box.hidden = false;

    let pagefind = null;
    // The paper pages have an index of their own (pagefind/papers/, written only when the
    // library changes), merged into the site's with Pagefind's mergeIndex: one ranked list.
    const merged = (box.dataset.lhMerge || "").split(" ").filter(Boolean);
    const options = { baseUrl: root.pathname, excerptLength: 24,
                      ranking: { metaWeights: { lh_name: NAME_WEIGHT, lh_topics: NAME_WEIGHT } } };
    const loading = import(new URL("pagefind/pagefind.js", root).href).then(async (module) => {
      await module.options(options);
      module.init();
      await Promise.all(merged.map((path) => module.mergeIndex(new URL(path, root).pathname, options)));
      pagefind = module;
      return module;
    }).catch((error) => {
      console.warn("labhandbook: Pagefind's index did not load, using Sphinx's search:", error);
      sphinxSearch(root);
      return new Promise(() => {});  // Sphinx's search takes over; ours never answers
    });
    let typedAt = 0;
    let latest = 0;
    let shown = [];
    let pending = [];

    function excerpt(html) {
      // Pagefind's excerpt is escaped text with <mark> around the query's words: keep only those.
      const tpl = document.createElement("template");
      tpl.innerHTML = html;
      const p = document.createElement("p");
      p.className = "lh-result-excerpt";
      for (const node of tpl.content.childNodes) {
        if (node.nodeName === "MARK") {
          const mark = document.createElement("mark");
          mark.textContent = node.textContent;
          p.appendChild(mark);
        } else {
          p.appendChild(document.createTextNode(node.textContent));
        }
      }
      return p;
    }

    function kindOf(meta) {
      const parts = [meta.kind || "Page"];
      if (meta.year) parts[0] += " " + meta.year;
      return parts.join(" · ");
    }

    function item(data) {
      const li = document.createElement("li");
      li.className = "lh-result";
      const kind = document.createElement("span");
      kind.className = "lh-result-kind";
      kind.textContent = kindOf(data.meta || {});
      const a = document.createElement("a");
      a.className = "lh-result-title";
      a.href = data.url;
      a.textContent = (data.meta && data.meta.title) || data.url;
      const head = document.createElement("p");
      head.className = "lh-result-head";
      head.append(a, " ", kind);
      li.append(head, excerpt(data.excerpt || ""));
      return li;
    }

    async function showMore(run) {
      const next = pending.splice(0, PAGE_SIZE);
      const datas = await Promise.all(next.map((r) => r.data()));
      if (run !== latest) return;
      for (const data of datas) list.appendChild(item(data));
      shown = shown.concat(datas);
      more.hidden = pending.length === 0;
    }

    async function search(term) {
      const run = ++latest;
      const q = term.trim();
      const url = new URL(location.href);
      if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
      if (!q) {
        list.replaceChildren();
        status.textContent = "";
        more.hidden = true;
        return;
      }
      const pf = pagefind || await loading;
      const found = await pf.search(q);
      if (run !== latest || !found) return;
      pending = found.results.slice();
      shown = [];
      list.replaceChildren();
      await showMore(run);
      if (run !== latest) return;
      const n = found.results.length;
      status.textContent = n === 0 ? `No page matches “${q}”.`
        : `${n} ${n === 1 ? "page matches" : "pages match"} “${q}”.`;
      // Milliseconds from the last keystroke to the results (read by the tests and `make bench`).
      if (typedAt) document.documentElement.dataset.lhSearchMs = String(Math.round(performance.now() - typedAt));
    }

    let timer = 0;
    field.addEventListener("input", () => {
      typedAt = performance.now();
      clearTimeout(timer);
      timer = setTimeout(() => search(field.value), 60);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(timer);
      search(field.value);
    });
    more.addEventListener("click", () => showMore(latest));

    const initial = new URLSearchParams(location.search).get("q") || "";
    if (initial) {
      field.value = initial;
      search(initial);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
