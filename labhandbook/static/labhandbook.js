// labhandbook: copy a publication's BibTeX; put obfuscated e-mail links together.
document.addEventListener("click", (event) => {
  const button = event.target.closest(".lh-bibtex-button");
  if (button) {
    const text = button.dataset.bibtex || "";
    // The entry is shown under the button either way, so the reader sees what was copied.
    const done = (copied) => {
      showBibtex(button, text);
      const old = button.dataset.label || button.textContent;
      button.dataset.label = old;
      button.textContent = copied ? "Copied" : "Select and copy below";
      setTimeout(() => { button.textContent = old; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
    } else {
      done(false);
    }
    return;
  }
});

function showBibtex(button, text) {
  const holder = button.parentElement;
  if (holder.nextElementSibling && holder.nextElementSibling.matches("pre.lh-bibtex-source")) {
    return;  // a paper page shows its BibTeX already
  }
  let pre = holder.querySelector("pre.lh-bibtex");
  if (!pre) {
    pre = document.createElement("pre");
    pre.className = "lh-bibtex";
    pre.setAttribute("aria-label", "BibTeX of this entry");
    pre.textContent = text;
    holder.appendChild(pre);
  }
}

// E-mail addresses are written into the page in two halves; the link is put together here.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("a.lh-email[data-user][data-domain]").forEach((link) => {
    link.href = "mailto:" + link.dataset.user + "@" + link.dataset.domain;
  });
});

// Filter the canonical publication list by area, member and type.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.lh-filter");
  if (!form) return;
  const wanted = {};
  form.querySelectorAll("select[data-lh-filter]").forEach((s) => { wanted[s.dataset.lhFilter] = s.value; });
  let shown = 0;
  document.querySelectorAll(".lh-pub-group > .lh-citation").forEach((entry) => {
    const ok = (!wanted.area || entry.classList.contains("lh-area-" + wanted.area))
      && (!wanted.member || entry.classList.contains("lh-member-" + wanted.member))
      && (!wanted.kind || entry.classList.contains("lh-kind-" + wanted.kind));
    entry.hidden = !ok;
    if (ok) shown += 1;
  });
  document.querySelectorAll(".lh-pub-group").forEach((group) => {
    const visible = group.querySelector(".lh-citation:not([hidden])") !== null;
    group.hidden = !visible;
    const rubric = group.previousElementSibling;
    if (rubric && rubric.classList.contains("rubric")) rubric.hidden = !visible;
  });
  document.querySelectorAll("section[id^='year-']").forEach((year) => {
    year.hidden = year.querySelector(".lh-citation:not([hidden])") === null;
  });
  form.querySelector(".lh-filter-count").textContent = shown + " shown";
});

// --- Fixes for the theme's own controls (found by the axe-core and keyboard tests) ---------
// "/" opens the search box (Sphinx's handler focuses the field of the closed search dialog).
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  const field = document.querySelector(":not(#pst-search-dialog) > form.bd-search input[name=q]");
  if (field && field.checkVisibility()) { field.focus(); field.select(); return; }
  const button = [...document.querySelectorAll(".search-button__button")].find((b) => b.checkVisibility());
  if (button) button.click();
}, true);
document.addEventListener("DOMContentLoaded", () => {
  // The sidebar's expand/collapse toggles have no accessible name.
  document.querySelectorAll(".bd-sidenav details > summary").forEach((summary) => {
    if (summary.textContent.trim() || summary.hasAttribute("aria-label")) return;
    const link = summary.closest("li")?.querySelector(":scope > a");
    summary.setAttribute("aria-label", `Show or hide the pages under ${link ? link.textContent.trim() : "this section"}`);
  });
  // The search button's label must contain its visible text ("Search Ctrl+K").
  document.querySelectorAll(".search-button-field[aria-label]").forEach((b) => b.removeAttribute("aria-label"));
});
