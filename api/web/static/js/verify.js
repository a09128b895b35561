// Verify console: start a test verification with one of the tenant's test
// keys, follow the channels it moves through, and check the code, all with
// the customer-facing Verify API.
//
// The API key lives only in the `apiKey` variable below: never in browser
// storage, a cookie or the URL, and the input is cleared once it is read.

import {
  announce,
  callApi,
  callWithStepUp,
  clearProblem,
  element,
  formatTime,
  POLL_MS,
  ProblemError,
  showProblem,
  statusBadge,
} from "./portal.js";

const SESSIONS = "/v1/verify/sessions";
// Every status but "pending" is final.
const PENDING = "pending";
const TEST_KEY = /^sk_test_[0-9A-Za-z]+$/;
const CONSOLE_KEY_SCOPES = ["verify:send", "verify:check"];

const keyForm = document.getElementById("api-key-form");
const keyStatus = document.getElementById("api-key-status");
const startForm = document.getElementById("start-form");
const sessionCard = document.getElementById("session-card");
const checkForm = document.getElementById("check-form");
const attemptsList = document.getElementById("attempts");
const checkResult = document.getElementById("check-result");

let apiKey = null;
// A key the console created for itself; revoked when the page goes away.
// TODO: give the console key an expiry once the keys API takes one, because a
// browser that crashes never sends the revocation and leaves the key active.
let consoleKeyId = null;
let session = null;
let pollTimer = null;
let announcedAttempts = 0;

function invalid(field, message) {
  return new ProblemError(
    400,
    { title: "Invalid request", detail: message, errors: [{ field, message }] },
    null,
  );
}

function useKey(secret, label) {
  apiKey = secret;
  keyStatus.textContent = `Using ${label}. This page keeps it in memory only.`;
  keyStatus.hidden = false;
  announce(keyStatus.textContent);
}

function maskedLabel(secret) {
  return `${secret.slice(0, 8)}…${secret.slice(-4)}`;
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  clearProblem(keyForm);
  const secret = keyForm.elements.api_key.value.trim();
  if (!TEST_KEY.test(secret)) {
    showProblem(invalid("api_key", "Paste a test key: it starts with sk_test_."), {
      form: keyForm,
    });
    return;
  }
  keyForm.elements.api_key.value = "";
  useKey(secret, `key ${maskedLabel(secret)}`);
});

async function createConsoleKey() {
  clearProblem(keyForm);
  const button = document.getElementById("console-key-button");
  button.disabled = true;
  try {
    const created = await callWithStepUp("/v1/keys", {
      method: "POST",
      json: { name: "Verify console", environment: "test", scopes: CONSOLE_KEY_SCOPES },
    });
    const key = created?.key ?? created;
    consoleKeyId = key.key_id ?? key.id;
    const revealed = await callWithStepUp(
      `/v1/keys/${encodeURIComponent(consoleKeyId)}/reveal`,
      { method: "POST" },
    );
    useKey(
      revealed.secret,
      `a console key (${maskedLabel(revealed.secret)}) that is revoked when you leave`,
    );
  } catch (error) {
    showProblem(error, { form: keyForm, retry: createConsoleKey });
  } finally {
    button.disabled = false;
  }
}

document.getElementById("console-key-button").addEventListener("click", createConsoleKey);

// keepalive lets the revocation outlive the page; the session cookie and the
// CSRF header authenticate it like any other call.
window.addEventListener("pagehide", () => {
  apiKey = null;
  if (!consoleKeyId) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  fetch(`/v1/keys/${encodeURIComponent(consoleKeyId)}`, {
    method: "DELETE",
    keepalive: true,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": token },
  }).catch(() => {});
  consoleKeyId = null;
});

function sessionId(value) {
  return value.id;
}

function renderAttempts(attempts) {
  const items = attempts.map((attempt) =>
    element("li", {}, [
      element("strong", { text: attempt.channel }),
      " ",
      statusBadge(attempt.status),
      element("span", { text: ` ${formatTime(attempt.at)}` }),
    ]),
  );
  attemptsList.replaceChildren(...items);
  if (attempts.length > announcedAttempts) {
    const latest = attempts[attempts.length - 1];
    announce(`Code sent by ${latest.channel}: ${String(latest.status).replaceAll("_", " ")}.`);
    announcedAttempts = attempts.length;
  }
}

function renderSession(value) {
  session = value;
  sessionCard.hidden = false;
  document.getElementById("session-id").textContent = sessionId(value);
  document.getElementById("session-status").replaceChildren(statusBadge(value.status));
  document.getElementById("session-to").textContent = value.to;
  document.getElementById("session-channel").textContent = value.channel ?? "";
  document.getElementById("session-attempts").textContent = String(value.attempts_remaining);
  renderAttempts(value.channels_tried ?? []);
  const finished = value.status !== PENDING;
  for (const control of checkForm.querySelectorAll("input, button")) control.disabled = finished;
}

async function refreshSession() {
  if (!session || !apiKey) return;
  const previous = session.status;
  try {
    renderSession(await callApi(`${SESSIONS}/${encodeURIComponent(sessionId(session))}`, { apiKey }));
  } catch (error) {
    showProblem(error);
  }
  if (session.status !== previous) announce(`Verification is ${session.status}.`);
  if (session.status === PENDING) pollTimer = window.setTimeout(refreshSession, POLL_MS);
}

// Read the start form; returns the request body, or null after marking the invalid field.
function readStartForm() {
  const to = startForm.elements.to.value.trim();
  const channels = [...startForm.querySelectorAll('input[name="channels"]:checked')].map(
    (box) => box.value,
  );
  const timeout = Number(startForm.elements.channel_timeout_seconds.value);

  let problem = null;
  if (!to) {
    problem = invalid("to", "Enter the number with its country code, such as +14155552671.");
  } else if (!channels.length) {
    problem = invalid("channels", "Choose at least one channel.");
  } else if (!Number.isInteger(timeout) || timeout < 15 || timeout > 900) {
    problem = invalid("channel_timeout_seconds", "Enter a whole number of seconds from 15 to 900.");
  }
  if (problem) {
    showProblem(problem, { form: startForm });
    return null;
  }
  return { to, channels, channel_timeout_seconds: timeout };
}

async function startVerification() {
  clearProblem(startForm);
  if (!apiKey) {
    showProblem(invalid("api_key", "Use a test API key first (step 1)."), { form: keyForm });
    return;
  }
  const body = readStartForm();
  if (!body) return;

  const submit = startForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  window.clearTimeout(pollTimer);
  try {
    announcedAttempts = 0;
    const created = await callApi(SESSIONS, { method: "POST", json: body, apiKey });
    renderSession(created);
    announce(`Verification ${sessionId(created)} started.`);
    checkForm.elements.code.value = "";
    checkResult.hidden = true;
    pollTimer = window.setTimeout(refreshSession, POLL_MS);
  } catch (error) {
    showProblem(error, { form: startForm, retry: startVerification });
  } finally {
    submit.disabled = false;
  }
}

async function checkCode() {
  clearProblem(checkForm);
  const code = checkForm.elements.code.value.trim();
  if (!/^[0-9]{6,10}$/.test(code)) {
    showProblem(invalid("code", "Enter the digits of the code you received."), { form: checkForm });
    return;
  }
  try {
    const result = await callApi(`${SESSIONS}/${encodeURIComponent(sessionId(session))}/check`, {
      method: "POST",
      json: { code },
      apiKey,
    });
    // A used code has no value, and clearing it keeps it out of screen shares.
    if (result.status === "approved") checkForm.elements.code.value = "";
    checkResult.textContent =
      result.status === "approved"
        ? "Code approved: the number is verified."
        : `Code rejected. ${result.attempts_remaining} attempts left.`;
    checkResult.hidden = false;
    announce(checkResult.textContent);
    window.clearTimeout(pollTimer);
    await refreshSession();
  } catch (error) {
    showProblem(error, { form: checkForm, retry: checkCode });
  }
}

async function cancelSession() {
  clearProblem();
  try {
    const result = await callApi(`${SESSIONS}/${encodeURIComponent(sessionId(session))}/cancel`, {
      method: "POST",
      apiKey,
    });
    window.clearTimeout(pollTimer);
    renderSession(result);
    announce(`Verification is ${result.status}.`);
  } catch (error) {
    showProblem(error, { retry: cancelSession });
  }
}

startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  startVerification();
});
checkForm.addEventListener("submit", (event) => {
  event.preventDefault();
  checkCode();
});
document.getElementById("cancel-session").addEventListener("click", cancelSession);
