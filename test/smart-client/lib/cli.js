"use strict";
// The command line both launch scripts share: the app's registration, the
// user who signs in, and how they fail.

const path = require("node:path");
const { parseArgs } = require("node:util");

// options parses the common flags plus extra ones; scope is the default
// scope. The password comes from SMART_PASSWORD unless --password is given.
function options(extra, scope) {
  const { values } = parseArgs({
    options: {
      iss: { type: "string" },
      "client-id": { type: "string" },
      "redirect-uri": { type: "string" },
      username: { type: "string" },
      password: { type: "string", default: process.env.SMART_PASSWORD || "" },
      patient: { type: "string", default: "" },
      scope: { type: "string", default: scope },
      ...extra,
    },
  });
  for (const name of ["iss", "client-id", "redirect-uri", "username", "password"]) {
    if (!values[name]) fail(`--${name} is required`);
  }
  return values;
}

// fail ends the script with a message naming it.
function fail(msg) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${msg}\n`);
  process.exit(1);
}

module.exports = { options, fail };
