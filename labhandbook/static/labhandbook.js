// labhandbook: copy a publication's BibTeX; turn obfuscated e-mail text into a link on demand.
document.addEventListener("click", (event) => {
  const button = event.target.closest(".lh-bibtex-button");
  if (button) {
    const text = button.dataset.bibtex || "";
    const done = () => {
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => showBibtex(button, text));
    } else {
      showBibtex(button, text);
    }
    return;
  }
  const email = event.target.closest(".lh-email");
  if (email && !email.dataset.revealed) {
    const address = email.textContent.replace(/ \[at\] /, "@").replace(/ \[dot\] /g, ".");
    const link = document.createElement("a");
    link.href = "mailto:" + address;
    link.textContent = address;
    email.replaceChildren(link);
    email.dataset.revealed = "1";
  }
});

function showBibtex(button, text) {
  let pre = button.parentElement.querySelector("pre.lh-bibtex");
  if (!pre) {
    pre = document.createElement("pre");
    pre.className = "lh-bibtex";
    pre.textContent = text;
    button.parentElement.appendChild(pre);
  } else {
    pre.remove();
  }
}

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
