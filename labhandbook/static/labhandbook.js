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
