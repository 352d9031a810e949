// Log in with e-mail and password (POST /auth/token).

import { login } from "../auth.js";
import { h, render } from "../ui.js";

export function show(view) {
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true, inputmode: "email" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "card login", "aria-labelledby": "login-title", novalidate: true },
    h("h2", { id: "login-title" }, "Log in to fieldrep"),
    h("div", { class: "field" }, h("label", { for: "email" }, "E-mail"), email),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
    error,
    submit,
    h("p", { class: "muted small" }, "Demo: rep1@demo.fieldrep … rep5, manager@demo.fieldrep; password fieldrep-demo."));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value || !password.value) {
      error.textContent = "Enter your e-mail and password.";
      return;
    }
    submit.disabled = true;
    try {
      await login(email.value, password.value);
    } catch (err) {
      error.textContent = err.message;
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  render(view, form);
  email.focus();
}
