// A short message at the bottom of the screen.

let timer: number | undefined;

/** Shows `message` for a few seconds. */
export function showToast(message: string, kind: "ok" | "error" = "ok"): void {
  let el = document.querySelector<HTMLDivElement>(".toast");
  if (!el) {
    el = document.createElement("div");
    el.setAttribute("role", "status");
    document.body.append(el);
  }
  el.className = `toast${kind === "error" ? " error" : ""}`;
  el.textContent = message;
  el.hidden = false;
  window.clearTimeout(timer);
  timer = window.setTimeout(() => {
    if (el) el.hidden = true;
  }, kind === "error" ? 6000 : 3000);
}
