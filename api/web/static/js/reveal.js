// Reveal screen: a fresh MFA check when the last is not recent, then the
// key's secret, once.
//
// The secret comes from a POST (never a URL), lives only in this module's
// variable and, when the user chooses "Show", in the DOM. Nothing is written
// to cookies or browser storage, and the API answers 410 to any second reveal,
// so reloading, going back or a second tab cannot show it again.

import { announce, callWithStepUp, clearProblem, ProblemError, showProblem } from "./portal.js";

const MASK = "••••••••••••••••••••••••";

const section = document.getElementById("reveal");
const keyId = section.dataset.keyId;
const start = document.getElementById("reveal-start");
const revealButton = document.getElementById("reveal-button");
const panel = document.getElementById("secret-panel");
const value = document.getElementById("secret-value");
const toggle = document.getElementById("secret-toggle");
const copy = document.getElementById("secret-copy");
const gone = document.getElementById("reveal-gone");

let secret = null;
let copied = false;
let revealed = false;

function showGone(detail) {
  start.hidden = true;
  panel.hidden = true;
  gone.hidden = false;
  if (detail) document.getElementById("reveal-gone-detail").textContent = detail;
  gone.querySelector("h2").tabIndex = -1;
  gone.querySelector("h2").focus();
}

function setShown(shown) {
  value.textContent = shown ? secret : MASK;
  toggle.textContent = shown ? "Hide" : "Show";
  toggle.setAttribute("aria-pressed", String(shown));
}

function forget() {
  secret = null;
  value.textContent = MASK;
  panel.hidden = true;
}

async function reveal() {
  clearProblem();
  revealButton.disabled = true;
  try {
    // The API asks for a fresh authenticator code unless the last one is recent.
    const body = await callWithStepUp(`/v1/keys/${encodeURIComponent(keyId)}/reveal`, {
      method: "POST",
    });
    secret = body.secret;
    revealed = true;
    start.hidden = true;
    panel.hidden = false;
    setShown(false);
    announce("The secret is ready. It is masked; choose Show to display it.");
    toggle.focus();
  } catch (error) {
    if (error instanceof ProblemError && error.status === 410) {
      showGone(error.problem.detail);
      return;
    }
    showProblem(error, { retry: reveal });
  } finally {
    revealButton.disabled = false;
  }
}

async function copySecret() {
  if (!secret) return;
  try {
    await navigator.clipboard.writeText(secret);
    copied = true;
    announce("Secret copied to the clipboard.");
    copy.textContent = "Copied";
  } catch {
    setShown(true);
    const range = document.createRange();
    range.selectNodeContents(value);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    announce("Copying was blocked; the secret is selected, press Ctrl+C to copy it.");
  }
}

revealButton.addEventListener("click", reveal);
toggle.addEventListener("click", () => setShown(toggle.getAttribute("aria-pressed") !== "true"));
copy.addEventListener("click", copySecret);

// Warn before leaving with a secret that was never copied: it cannot come back.
window.addEventListener("beforeunload", (event) => {
  if (secret && !copied) event.preventDefault();
});
// A page restored from the back/forward cache must not bring the secret back.
window.addEventListener("pagehide", forget);
window.addEventListener("pageshow", (event) => {
  if (event.persisted && revealed) showGone();
});
