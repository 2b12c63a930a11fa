#!/usr/bin/env node
// A SMART app running in headless Chromium: fhirclient's browser build
// (build/fhir-client.js) on two static pages served here, driven by
// playwright-core in the machine's Chromium (Debian's /usr/bin/chromium or
// $CHROMIUM; Playwright downloads no browser of its own).
//
//   node browser.js --iss FHIR_BASE --client-id ID --redirect-uri http://127.0.0.1:PORT/callback.html \
//     --username U [--patient ID] [--scope "..."]
//
// The password comes from SMART_PASSWORD (or --password). The browser
// opens /launch.html?iss=… (FHIR.oauth2.authorize), a person's clicks
// sign in, pick --patient when the picker comes and allow the ticked
// scopes, and the redirect URI's page (FHIR.oauth2.ready) reads the
// patient and their Observations across origins (CORS) and decodes the
// id_token with the browser's atob (getFhirUser, getIdToken). It prints
// one JSON object like launch.js does.
"use strict";

const { options, fail } = require("./lib/cli");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { chromium } = require("playwright-core");

const opt = options({}, "launch/patient openid fhirUser patient/*.rs");

const STEP_TIMEOUT = 20000;
const redirect = new URL(opt["redirect-uri"]);
const bundle = path.join(path.dirname(require.resolve("fhirclient/package.json")), "build", "fhir-client.js");
const config = { clientId: opt["client-id"], scope: opt.scope, redirectUri: redirect.href };

// The launch page starts the authorization; the callback page completes
// it and leaves its findings in window.__result (or window.__error).
const launchPage = `<!DOCTYPE html><meta charset="utf-8"><title>launch</title>
<script src="/fhir-client.js"></script>
<script>
FHIR.oauth2.authorize(Object.assign(${JSON.stringify(config)}, { pkceMode: "required" }))
  .catch(function (e) { window.__error = String(e && e.stack || e); });
</script>`;

const callbackPage = `<!DOCTYPE html><meta charset="utf-8"><title>callback</title>
<script src="/fhir-client.js"></script>
<script>
(async function () {
  const client = await FHIR.oauth2.ready();
  const patientId = client.patient.id;
  const patient = await client.patient.read();
  const obs = await client.request("Observation?patient=" + encodeURIComponent(patientId), { pageLimit: 0, flat: true });
  const tr = client.state.tokenResponse;
  const idToken = client.getIdToken();
  return {
    patient: patientId,
    patient_resource: patient.resourceType + "/" + patient.id,
    fhir_user: client.getFhirUser(),
    id_token_fhir_user: idToken && idToken.fhirUser,
    token: {
      scope: tr.scope, patient: tr.patient, encounter: tr.encounter, fhirUser: tr.fhirUser,
      need_patient_banner: tr.need_patient_banner, expires_in: tr.expires_in,
      has_refresh_token: Boolean(tr.refresh_token), has_id_token: Boolean(tr.id_token),
    },
    observations: obs.map(function (o) { return { id: o.id, subject: o.subject && o.subject.reference }; }),
  };
})().then(function (r) { window.__result = r; }, function (e) { window.__error = String(e && e.stack || e); });
</script>`;

const app = http.createServer((req, res) => {
  const p = new URL(req.url, redirect).pathname;
  if (p === "/fhir-client.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    fs.createReadStream(bundle).pipe(res);
  } else if (p === "/launch.html") {
    res.writeHead(200, { "content-type": "text/html" }).end(launchPage);
  } else if (p === redirect.pathname) {
    res.writeHead(200, { "content-type": "text/html" }).end(callbackPage);
  } else {
    res.writeHead(404).end();
  }
});

// person does what a person would on one authorization server page.
async function person(page) {
  if (await page.locator('input[name="username"]').count()) {
    await page.fill('input[name="username"]', opt.username);
    await page.fill('input[name="password"]', opt.password);
    await page.click('button[type="submit"]');
  } else if (await page.locator('input[name="patient"][type="radio"]').count()) {
    if (!opt.patient) throw new Error("the picker came, but no --patient was given");
    await page.check(`input[name="patient"][value="${opt.patient}"]`, { timeout: STEP_TIMEOUT });
    await page.click('button[type="submit"]');
  } else if (await page.locator('button[value="approve"]').count()) {
    await page.click('button[value="approve"]');
  } else {
    throw new Error(`unexpected page ${page.url()}:\n${await page.content()}`);
  }
}

async function launch(browser) {
  const page = await browser.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e}`));
  const stuck = async (what) => {
    const err = await page.evaluate(() => window.__error).catch(() => "");
    return new Error(`${what} at ${page.url()}: ${err || ""}\nconsole:\n${consoleLines.join("\n")}`);
  };
  const atCallback = (u) => u.origin === redirect.origin && u.pathname === redirect.pathname;
  const onLaunchPage = (u) => u.origin === redirect.origin && !atCallback(u);

  const start = new URL("/launch.html", redirect);
  start.searchParams.set("iss", opt.iss);
  await page.goto(start.href);
  const pages = [];
  for (let i = 0; ; i++) {
    if (i >= 10) throw await stuck("too many pages");
    await page.waitForURL((u) => !onLaunchPage(u), { timeout: STEP_TIMEOUT }).catch(async () => {
      throw await stuck("the launch page did not go on");
    });
    if (atCallback(new URL(page.url()))) break;
    pages.push(new URL(page.url()).pathname);
    const before = page.url();
    await person(page);
    await page.waitForURL((u) => u.href !== before, { timeout: STEP_TIMEOUT }).catch(async () => {
      throw await stuck("the form led nowhere");
    });
  }
  await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 30000 }).catch(async () => {
    throw await stuck("the app did not finish");
  });
  const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
  if (error) throw new Error(`the app failed: ${error}\nconsole:\n${consoleLines.join("\n")}`);
  result.pages = pages;
  return result;
}

app.listen(Number(redirect.port), redirect.hostname, async () => {
  let browser;
  let code = 0;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      // No sandbox as root; no background connections on a closed network.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const result = await launch(browser);
    result.browser = `chromium ${browser.version()}`;
    process.stdout.write(JSON.stringify(result) + "\n");
  } catch (err) {
    process.stderr.write(`browser.js: ${(err && err.stack) || err}\n`);
    code = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    app.close();
    app.closeAllConnections();
    process.exitCode = code;
  }
});
app.on("error", (err) => fail(String(err)));
