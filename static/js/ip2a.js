// IP2A portal behaviour. Everything works without this file; it only adds conveniences.
document.addEventListener("keydown", (event) => {
  // "/" focuses the global search box, as on GitHub and NetBox.
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
  const search = document.querySelector("[data-global-search]");
  if (search) {
    event.preventDefault();
    search.focus();
  }
});
