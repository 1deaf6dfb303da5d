// The pages behind the links in emails: each form is posted to the API as JSON, and the
// API's answer is shown. The form stays hidden without JavaScript, so it is never sent
// another way (a plain GET would put the password in the URL).
"use strict";

for (const form of document.querySelectorAll("form[data-api]")) {
  const alert = form.querySelector("[role=alert]");
  const button = form.querySelector("button");
  const fail = (message) => {
    alert.textContent = message;
    alert.hidden = false;
    button.disabled = false;
  };
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.hidden = true;
    const body = Object.fromEntries(new FormData(form));
    if ("password_again" in body) {
      if (body.password !== body.password_again) {
        fail("The two passwords are not the same.");
        return;
      }
      delete body.password_again;
    }
    button.disabled = true;
    let response;
    try {
      response = await fetch(form.dataset.api, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      fail("The server could not be reached. Check the connection and try again.");
      return;
    }
    if (response.ok) {
      form.hidden = true;
      document.getElementById(form.dataset.done).hidden = false;
      return;
    }
    const answer = await response.json().catch(() => ({}));
    const messages = (answer.errors || [])
      .filter((error) => error.message)
      .map((error) => (error.field ? `${error.field}: ${error.message}` : error.message));
    fail(messages.length ? messages.join(" ") : answer.detail || `Error ${response.status}.`);
  });
}
