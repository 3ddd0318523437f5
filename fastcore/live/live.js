// fastcore live reload: follows the dev server's event stream. A change to a
// stylesheet swaps just that stylesheet; any other change, or a new server
// process (its boot id differs from the one this page was served by),
// reloads the page.
(() => {
  const script = document.currentScript;
  const boot = script.dataset.boot;
  const seen = "fastcore-live-boot";

  function connect() {
    const events = new EventSource(new URL("events", script.src));
    events.addEventListener("hello", (e) => {
      if (e.data === boot) return;
      // A page the browser kept (a 304) carries the old id: reload once per boot.
      if (sessionStorage.getItem(seen) === e.data) return;
      sessionStorage.setItem(seen, e.data);
      location.reload();
    });
    events.addEventListener("reload", () => location.reload());
    events.addEventListener("css", (e) => {
      if (!JSON.parse(e.data).every(swap)) location.reload();
    });
    // The server process is going (the reloader replaces it): reconnect now,
    // not after the retry delay; the connection waits for the next process.
    events.addEventListener("bye", () => {
      events.close();
      connect();
    });
  }
  connect();

  // Whether a <link rel=stylesheet> whose path ends with `path` was found;
  // each is replaced by a fresh copy, the old one removed once the new loads.
  function swap(path) {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"]')].filter((link) => {
      const p = new URL(link.href).pathname;
      return p === path || p.endsWith("/" + path.replace(/^\//, ""));
    });
    for (const old of links) {
      const fresh = old.cloneNode();
      const url = new URL(old.href);
      url.searchParams.set("fastcore-live", Date.now());
      fresh.href = url.href;
      fresh.addEventListener("load", () => old.remove(), { once: true });
      fresh.addEventListener("error", () => old.remove(), { once: true });
      old.after(fresh);
    }
    return links.length > 0;
  }
})();
