// Shared by every portal page: calls to the JSON API, the problem banner,
// status announcements and the step-up MFA prompt.
//
// Pages build their DOM with textContent and createElement only: the
// Content-Security-Policy forbids writing HTML strings (Trusted Types).

const REQUEST_TIMEOUT_MS = 10000;
const CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export const POLL_MS = Number(document.body.dataset.pollMs) || 2000;

export const API = {
  signIn: "/v1/auth/sign-in",
  signOut: "/v1/auth/sign-out",
  stepUp: "/v1/auth/mfa",
  session: "/v1/auth/session",
};

// An API call that did not succeed, carrying its problem document (RFC 9457).
export class ProblemError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ProblemError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  get unavailable() {
    return this.status === 503 || this.status === 0;
  }
}

function retryAfterSeconds(response, problem) {
  const fromHeader = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  if (Number.isFinite(fromHeader) && fromHeader >= 0) return fromHeader;
  if (Number.isFinite(problem.retry_after)) return problem.retry_after;
  return null;
}

// Call the portal API on this origin and return the parsed JSON body.
// Throws ProblemError for any non-2xx response, a network failure or a timeout.
export async function callApi(
  path,
  { method = "GET", json, apiKey, timeoutMs = REQUEST_TIMEOUT_MS } = {},
) {
  const headers = { Accept: "application/json, application/problem+json" };
  const init = {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    redirect: "error",
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = CSRF_TOKEN;
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;

  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    const timedOut = error?.name === "TimeoutError";
    throw new ProblemError(
      0,
      {
        title: timedOut ? "Request timed out" : "Portal API unreachable",
        detail: timedOut
          ? `The portal API did not answer within ${timeoutMs / 1000} seconds.`
          : "The browser could not reach the portal API.",
        dependency: "portal API",
      },
      5,
    );
  }

  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.ok) return data;
  const problem =
    data && typeof data === "object"
      ? data
      : { title: `HTTP ${response.status}`, detail: text.slice(0, 200) };
  throw new ProblemError(response.status, problem, retryAfterSeconds(response, problem));
}

// --- Status announcements and the problem banner -------------------------

const banner = document.getElementById("portal-banner");
const statusRegion = document.getElementById("portal-status");

// Announce a status change to screen readers without moving focus.
export function announce(text) {
  statusRegion.textContent = "";
  // A fresh text node after clearing makes screen readers repeat equal messages.
  window.setTimeout(() => {
    statusRegion.textContent = text;
  }, 50);
}

export function clearProblem(form) {
  banner.replaceChildren();
  banner.className = "banner";
  if (!form) return;
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  for (const message of form.querySelectorAll(".field-error")) message.textContent = "";
}

// The sentence the banner shows for a problem, such as
// "auth-service unavailable, retry in 5 seconds."
export function describeProblem(error) {
  if (!(error instanceof ProblemError)) return `Unexpected error: ${error?.message ?? error}`;
  const problem = error.problem;
  if (error.unavailable && problem.dependency) {
    return `${problem.dependency} unavailable, retry in ${error.retryAfter ?? 5} seconds.`;
  }
  const title = problem.title || `HTTP ${error.status}`;
  return problem.detail ? `${title}: ${problem.detail}` : title;
}

function markInvalidFields(form, problem) {
  let first = null;
  for (const entry of problem.errors ?? []) {
    // "scopes.0" names the first scope; the form groups all of them.
    const name = String(entry.field ?? "").split(".").find((part) => form.elements.namedItem(part));
    if (!name) continue;
    const message = form.querySelector(`#${CSS.escape(name)}-error`);
    if (message) message.textContent = entry.message ?? "Invalid value.";
    const named = form.elements.namedItem(name);
    // A group of checkboxes comes back as a RadioNodeList: mark its fieldset.
    const field = named instanceof RadioNodeList ? named[0] : named;
    const marked = named instanceof RadioNodeList ? field.closest("fieldset") : field;
    marked?.setAttribute("aria-invalid", "true");
    first ??= field;
  }
  return first;
}

// Show a failed call in the banner, leaving every form field as the user typed
// it. A 503 names the dependency and when to retry; `retry` adds a button that
// runs the action again, enabled once Retry-After has passed.
export function showProblem(error, { form, retry } = {}) {
  // Only a missing or expired session sends the user to sign in. Other 401s,
  // such as an invalid API key in the Verify console, are shown in place.
  const signedOut =
    error instanceof ProblemError &&
    error.status === 401 &&
    String(error.problem.type ?? "").endsWith("/sign-in-required");
  if (signedOut && document.body.dataset.page !== "sign-in") {
    redirectToSignIn();
    return;
  }
  const text = document.createElement("span");
  text.textContent = describeProblem(error);
  const parts = [text];
  if (error instanceof ProblemError && error.unavailable && retry) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Retry";
    const wait = error.retryAfter ?? 5;
    if (wait > 0) {
      button.disabled = true;
      window.setTimeout(() => {
        button.disabled = false;
      }, wait * 1000);
    }
    button.addEventListener("click", () => {
      clearProblem();
      retry();
    });
    parts.push(button);
  }
  banner.className =
    error instanceof ProblemError && error.unavailable ? "banner banner-degraded" : "banner";
  banner.replaceChildren(...parts);

  const invalid = form && error instanceof ProblemError ? markInvalidFields(form, error.problem) : null;
  invalid?.focus();
}

export function redirectToSignIn() {
  const next = encodeURIComponent(window.location.pathname);
  window.location.assign(`/portal/sign-in?next=${next}`);
}

// --- Step-up MFA -----------------------------------------------------------

export function isStepUpRequired(error) {
  if (!(error instanceof ProblemError)) return false;
  return error.status === 401 && String(error.problem.type ?? "").endsWith("/mfa-required");
}

const stepUpDialog = document.getElementById("step-up");

// Ask for a fresh authenticator code and send it to the API. Resolves true once
// the API accepted it, false when the user cancelled.
export function promptStepUp() {
  const form = document.getElementById("step-up-form");
  const input = document.getElementById("step-up-code");
  const message = document.getElementById("step-up-error");
  const cancel = document.getElementById("step-up-cancel");
  const submit = form.querySelector('button[type="submit"]');
  input.value = "";
  input.removeAttribute("aria-invalid");
  message.textContent = "";

  return new Promise((resolve) => {
    const finish = (confirmed) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      stepUpDialog.removeEventListener("cancel", onCancel);
      stepUpDialog.close();
      resolve(confirmed);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      const code = input.value.trim();
      if (!/^[0-9]{6}$/.test(code)) {
        input.setAttribute("aria-invalid", "true");
        message.textContent = "Enter the 6 digits your authenticator app shows.";
        input.focus();
        return;
      }
      submit.disabled = true;
      try {
        await callApi(API.stepUp, { method: "POST", json: { code } });
        finish(true);
      } catch (error) {
        input.setAttribute("aria-invalid", "true");
        message.textContent = describeProblem(error);
        input.focus();
      } finally {
        submit.disabled = false;
      }
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    stepUpDialog.addEventListener("cancel", onCancel);
    stepUpDialog.showModal();
    input.focus();
  });
}

// callApi, but when the API requires a fresh MFA check, prompt for it and try once more.
export async function callWithStepUp(path, options) {
  try {
    return await callApi(path, options);
  } catch (error) {
    if (!isStepUpRequired(error)) throw error;
    if (!(await promptStepUp())) throw error;
    return callApi(path, options);
  }
}

// --- Confirmation ----------------------------------------------------------

// Ask to confirm a destructive action in the layout's dialog. Resolves null
// when cancelled, else { reason }, where reason is what the user typed when
// `askReason` is set (at least 3 characters).
export function confirmAction(title, detail, label, { askReason = false } = {}) {
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-detail").textContent = detail;
  document.getElementById("confirm-ok").textContent = label;
  const dialog = document.getElementById("confirm-dialog");
  const form = document.getElementById("confirm-form");
  const cancel = document.getElementById("confirm-cancel");
  const reasonField = document.getElementById("confirm-reason-field");
  const reason = document.getElementById("confirm-reason");
  const reasonError = document.getElementById("reason-error");
  reasonField.hidden = !askReason;
  reason.value = "";
  reason.removeAttribute("aria-invalid");
  reasonError.textContent = "";
  return new Promise((resolve) => {
    const finish = (result) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(result);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (askReason && text.length < 3) {
        reason.setAttribute("aria-invalid", "true");
        reasonError.textContent = "Say why in at least 3 characters.";
        reason.focus();
        return;
      }
      finish({ reason: text });
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    if (askReason) reason.focus();
  });
}

// --- Small DOM helpers --------------------------------------------------------

export function element(tag, { text, className, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function statusBadge(status) {
  const value = String(status ?? "unknown");
  return element("span", {
    text: value.replaceAll("_", " "),
    className: `status status-${value.toLowerCase()}`,
  });
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

// Repeat `task` every POLL_MS while the page is visible; returns a stop function.
export function poll(task) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState === "visible") {
      try {
        await task();
      } catch (error) {
        showProblem(error);
      }
    }
    if (!stopped) timer = window.setTimeout(tick, POLL_MS);
  };
  timer = window.setTimeout(tick, POLL_MS);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

// --- Layout: account name and sign-out -------------------------------------------

async function showAccount() {
  const name = document.getElementById("account-name");
  if (!name) return null;
  try {
    const me = await callApi(API.session);
    name.textContent = me?.email ?? "";
    return me;
  } catch (error) {
    showProblem(error);
    return null;
  }
}

document.getElementById("sign-out")?.addEventListener("click", async () => {
  try {
    await callApi(API.signOut, { method: "POST" });
  } catch (error) {
    if (!(error instanceof ProblemError && error.status === 401)) {
      showProblem(error);
      return;
    }
  }
  window.location.assign("/portal/sign-in");
});

export const account = document.body.dataset.page === "sign-in" ? Promise.resolve(null) : showAccount();
