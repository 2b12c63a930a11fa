#!/usr/bin/env node
// A SMART app built on fhirclient's Node adapter, launched against a
// running medbridge, with lib/agent.js as the user's browser.
//
//   node launch.js --iss FHIR_BASE --client-id ID --redirect-uri http://127.0.0.1:PORT/callback \
//     --username U [--patient ID] [--launch VALUE] [--scope "..."]
//
// The password comes from SMART_PASSWORD (or --password). The app listens
// on the redirect URI's port: /launch is its launch URL (an EHR opens it
// with ?iss=&launch=, a standalone launch with ?iss= alone) and the
// redirect URI completes the launch with smart(req, res).ready(). With
// --launch it is an EHR launch, otherwise a standalone one in which the
// user picks --patient on the picker page. The app then reads the
// patient and the patient's Observations and, when it was given a
// refresh token, refreshes and reads them again. It prints one JSON
// object: the token response's SMART fields, the patient and the
// Observations it saw.
"use strict";

const { options, fail } = require("./lib/cli");
const http = require("node:http");
const smart = require("fhirclient");
const agent = require("./lib/agent");

const opt = options({ launch: { type: "string", default: "" } }, "launch/patient openid fhirUser patient/*.rs offline_access");

const redirect = new URL(opt["redirect-uri"]);
// One user, one session: the app's server-side session store.
const session = {};

async function callback(req) {
  const client = await smart(req).ready();
  const patientId = client.patient.id;
  if (!patientId) throw new Error("no patient in context");
  const patient = await client.patient.read();
  const observations = () =>
    client.request(`Observation?patient=${encodeURIComponent(patientId)}`, { pageLimit: 0, flat: true });
  const first = await observations();
  const tr = client.state.tokenResponse;
  const out = {
    patient: patientId,
    patient_resource: `${patient.resourceType}/${patient.id}`,
    fhir_user: client.getFhirUser(),
    user: client.user.fhirUser,
    token: {
      scope: tr.scope,
      patient: tr.patient,
      encounter: tr.encounter,
      fhirUser: tr.fhirUser,
      need_patient_banner: tr.need_patient_banner,
      expires_in: tr.expires_in,
      has_refresh_token: Boolean(tr.refresh_token),
      has_id_token: Boolean(tr.id_token),
    },
    observations: first.map((o) => ({ id: o.id, subject: o.subject && o.subject.reference })),
  };
  if (tr.refresh_token) {
    const before = tr.access_token;
    await client.refresh();
    out.refreshed = client.state.tokenResponse.access_token !== before;
    out.observations_after_refresh = (await observations()).length;
  }
  return out;
}

const app = http.createServer(async (req, res) => {
  req.session = session;
  const path = new URL(req.url, redirect).pathname;
  try {
    if (path === "/launch") {
      await smart(req, res).authorize({
        clientId: opt["client-id"],
        scope: opt.scope,
        redirectUri: redirect.href,
        pkceMode: "required",
      });
      return;
    }
    if (path === redirect.pathname) {
      const out = await callback(req);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out));
      return;
    }
    res.writeHead(404).end();
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String((err && err.stack) || err));
  }
});

app.listen(Number(redirect.port), redirect.hostname, async () => {
  const launchURL = new URL("/launch", redirect);
  launchURL.searchParams.set("iss", opt.iss);
  if (opt.launch) launchURL.searchParams.set("launch", opt.launch);
  try {
    const { body, pages } = await agent.run(launchURL.href, redirect.origin, {
      username: opt.username,
      password: opt.password,
      patient: opt.patient,
      submit: "approve",
    });
    const out = JSON.parse(body);
    out.pages = pages;
    process.stdout.write(JSON.stringify(out) + "\n");
    app.close();
  } catch (err) {
    app.close();
    fail((err && err.stack) || String(err));
  }
});
app.on("error", (err) => fail(String(err)));
