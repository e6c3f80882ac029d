// Log in with a username and password; the tokens stay in this tab (sessionStorage).

import { login } from "../api.js";
import { fill, h, notice } from "../dom.js";
import { sentence } from "../format.js";

export async function render(root, ctx) {
  const message = ctx.loginMessage();
  const status = h("div", { "data-testid": "login-status" }, message ? notice("info", message) : null);
  const username = h("input", { type: "text", id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button" }, "Log in");
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "QuantGrid console"),
    status,
    h("div", { class: "field" }, h("label", { for: "username" }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
    submit,
    h(
      "p",
      { class: "hint" },
      "No account? `quantgrid up` prints the password of the user demo on its first run; an admin adds users with `quantgrid users create NAME --role trader`.",
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(status, h("p", { class: "muted", role: "status" }, "Logging in\u2026"));
    try {
      await login(username.value.trim(), password.value);
      ctx.loggedIn();
    } catch (error) {
      const what =
        error.status === 401
          ? "Check the username and password (they are case-sensitive) and try again."
          : error.hint || "Try again.";
      fill(status, notice("error", error.status === 401 ? "Login refused" : error.title || "Login failed", sentence(error.detail), " ", what));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  fill(root, form);
  username.focus();
}
