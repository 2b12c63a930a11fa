// A minimal user agent for the authorization server's HTML pages: it keeps
// cookies, follows redirects itself and submits each page's form the way a
// person would (signs in, picks the patient, allows the ticked scopes),
// without JavaScript, as the pages are meant to be used.
"use strict";

const MAX_STEPS = 20;

// Cookies by host (cookies ignore ports, so the app and the server share
// them when both run on 127.0.0.1, as in a browser).
class Jar {
  constructor() {
    this.hosts = new Map();
  }
  store(url, headers) {
    const host = new URL(url).hostname;
    const jar = this.hosts.get(host) || new Map();
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    this.hosts.set(host, jar);
  }
  header(url) {
    const jar = this.hosts.get(new URL(url).hostname);
    if (!jar || jar.size === 0) return {};
    return { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") };
  }
}

function decodeEntities(s) {
  return s
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return out;
}

// parseForm returns the first form of a page: its method, action and
// controls ({tag, type, name, value, checked}).
function parseForm(html) {
  const m = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  if (!m) return null;
  const form = attrs(m[1]);
  const controls = [];
  for (const c of m[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
    const a = attrs(c[2]);
    controls.push({
      tag: c[1].toLowerCase(),
      type: (a.type || (c[1].toLowerCase() === "button" ? "submit" : "text")).toLowerCase(),
      name: a.name,
      value: a.value ?? "",
      checked: "checked" in a,
    });
  }
  return { method: (form.method || "get").toUpperCase(), action: form.action || "", controls };
}

// fillForm returns the fields a person would send: hidden fields as they
// are, text fields from answers, ticked boxes left ticked, the radio
// button whose value answers[name] names, and the submit button whose
// value is answers.submit (the first one otherwise).
function fillForm(form, answers) {
  const body = new URLSearchParams();
  const chosen = {};
  let submit = null;
  for (const c of form.controls) {
    if (!c.name && c.type !== "submit") continue;
    switch (c.type) {
      case "hidden":
        body.append(c.name, c.value);
        break;
      case "checkbox":
        if (c.checked) body.append(c.name, c.value);
        break;
      case "radio":
        if (answers[c.name] === c.value) {
          body.append(c.name, c.value);
          chosen[c.name] = true;
        }
        break;
      case "submit":
        if (!submit || (answers.submit !== undefined && c.value === answers.submit)) submit = c;
        break;
      default: // text, password
        if (c.name in answers) body.append(c.name, answers[c.name]);
    }
  }
  if (submit && submit.name) body.append(submit.name, submit.value);
  return { body, chosen };
}

// run opens startURL and drives every page of the authorization server
// until a response comes from appOrigin without redirecting (the app's
// redirect endpoint answering); it returns that response's text and the
// pages it went through.
async function run(startURL, appOrigin, answers) {
  const jar = new Jar();
  const pages = [];
  let url = startURL;
  let init = { method: "GET" };
  for (let step = 0; step < MAX_STEPS; step++) {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers || {}), ...jar.header(url) },
    });
    jar.store(url, res.headers);
    const text = await res.text();
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location"), url).href;
      init = { method: "GET" };
      continue;
    }
    if (new URL(url).origin === appOrigin) {
      if (res.status !== 200) throw new Error(`app answered ${res.status}: ${text}`);
      return { body: text, pages };
    }
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text}`);
    const form = parseForm(text);
    if (!form) throw new Error(`${url}: no form on the page:\n${text}`);
    const page = new URL(url).pathname;
    const { body, chosen } = fillForm(form, answers);
    if (answers.patient && form.controls.some((c) => c.name === "patient" && c.type === "radio")) {
      if (!chosen.patient) throw new Error(`the picker does not list Patient/${answers.patient}:\n${text}`);
    }
    pages.push(page);
    url = new URL(form.action, url).href;
    init = {
      method: form.method,
      body: body.toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
  }
  throw new Error(`no answer from the app after ${MAX_STEPS} steps (at ${url})`);
}

module.exports = { run, parseForm, fillForm };
