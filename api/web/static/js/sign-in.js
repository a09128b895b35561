// Sign-in page: email, password and a TOTP code, posted to the auth API.

import { API, callApi, clearProblem, ProblemError, showProblem } from "./portal.js";

const form = document.getElementById("sign-in-form");
const submit = form.querySelector('button[type="submit"]');

function missingFields() {
  const problems = [];
  if (!form.email.value.trim()) problems.push({ field: "email", message: "Enter your email." });
  if (!form.password.value) problems.push({ field: "password", message: "Enter your password." });
  if (!/^[0-9]{6}$/.test(form.totp_code.value.trim())) {
    problems.push({
      field: "totp_code",
      message: "Enter the 6 digits your authenticator app shows.",
    });
  }
  return problems;
}

async function signIn() {
  clearProblem(form);
  const errors = missingFields();
  if (errors.length) {
    showProblem(
      new ProblemError(400, { title: "Check the highlighted fields", errors }, null),
      { form },
    );
    return;
  }
  submit.disabled = true;
  try {
    await callApi(API.signIn, {
      method: "POST",
      json: {
        email: form.email.value.trim(),
        password: form.password.value,
        totp_code: form.totp_code.value.trim(),
      },
    });
    window.location.assign(form.dataset.next);
  } catch (error) {
    // A wrong code cannot be used again; keep email and password, clear the code.
    if (error.status === 401) form.totp_code.value = "";
    showProblem(error, { form, retry: signIn });
    if (error.status === 401) form.totp_code.focus();
  } finally {
    submit.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  signIn();
});
form.email.focus();
