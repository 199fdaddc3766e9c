// Conformance run of the official ftrack JavaScript client (@ftrack/api,
// pinned in package.json) against an ftrack server — in our tests the
// ftracktest emulator, started by ../../jsclient_test.go.
//
//   node conformance.mjs <serverURL> <apiUser> <apiKey> [--pause]
//
// Every step prints one JSON object on its own line on stdout
// ({"step":"create","ok":true,...}); the Go test parses those lines and
// checks the emulator's state besides. The process exits 1 as soon as a
// step has an unexpected outcome (the failing step is printed with ok:false
// and an "error" field first). The API key is never printed.
//
// With --pause the script prints {"step":"pause"} before deleting the user
// and waits for a line (or EOF) on stdin, so the caller can inspect the
// server's state while the user, group and membership exist.

import { createInterface } from "node:readline";
import { Session, error as ftrackError, expression } from "@ftrack/api";

const [serverURL, apiUser, apiKey, flag] = process.argv.slice(2);
const pause = flag === "--pause";
if (!serverURL || !apiUser || !apiKey) {
  console.error("usage: node conformance.mjs <serverURL> <apiUser> <apiKey>");
  process.exit(2);
}

// Names are fixed so the Go test can look the entities up in the emulator.
const username = "js.client@example.com";
const groupName = "js-client-group";

function emit(step, fields) {
  process.stdout.write(JSON.stringify({ step, ok: true, ...fields }) + "\n");
}

// fail reports the step as failed and ends the run.
function fail(step, message, fields = {}) {
  process.stdout.write(
    JSON.stringify({ step, ok: false, error: message, ...fields }) + "\n",
  );
  process.exit(1);
}

function check(step, cond, message, fields) {
  if (!cond) fail(step, message, fields);
}

// errorFields describes a rejection without the API key (the client's
// messages come from the server's "content"; the key is masked anyway).
function errorFields(err) {
  const mask = (s) => String(s ?? "").split(apiKey).join("***");
  return {
    name: err?.name ?? typeof err,
    message: mask(err?.message ?? err),
    errorCode: err?.errorCode ?? null,
  };
}

// serverErrorFamily: the classes the client maps server exceptions to.
const serverErrorFamily = [
  ftrackError.ServerError,
  ftrackError.ServerValidationError,
  ftrackError.ServerPermissionDeniedError,
];
const isServerError = (err) => serverErrorFamily.some((c) => err instanceof c);

// run executes one step; an unexpected exception fails it.
async function run(step, fn) {
  try {
    await fn();
  } catch (err) {
    fail(step, "unexpected exception", errorFields(err));
  }
}

const session = new Session(serverURL, apiUser, apiKey, {
  autoConnectEventHub: false,
});

await run("init", async () => {
  await session.initializing;
  const info = session.serverInformation ?? {};
  const schemas = session.schemas ?? [];
  const byId = Object.fromEntries(schemas.map((s) => [s.id, s]));
  const types = ["User", "Group", "Membership"];
  for (const t of types) {
    check("init", byId[t], `schema ${t} missing`);
    check(
      "init",
      JSON.stringify(session.getPrimaryKeyAttributes(t)) === '["id"]',
      `schema ${t}: primary key is not ["id"]`,
    );
  }
  check("init", typeof info.version === "string" && info.version !== "", "no version");
  check("init", typeof info.schema_hash === "string" && info.schema_hash !== "", "no schema_hash");
  check("init", session.serverVersion === info.version, "serverVersion differs from serverInformation.version");
  emit("init", {
    version: info.version,
    schemaHash: info.schema_hash,
    timezone: info.is_timezone_support_enabled ?? null,
    schemas: schemas.length,
    types: types.filter((t) => byId[t]),
  });
});

// The session's own user: on a real site the API key belongs to a user
// account, which queries find like any other, active.
await run("api_user", async () => {
  const res = await session.query(
    expression`select id, username, is_active from User where username is "${apiUser}"`,
  );
  const rows = res?.data ?? [];
  check("api_user", rows.length === 1, `want 1 user named ${apiUser}, got ${rows.length}`);
  const u = rows[0];
  check("api_user", u.username === apiUser, `username ${u.username}`);
  check("api_user", u.is_active === true, `is_active ${u.is_active}`);
  emit("api_user", { id: u.id, username: u.username, isActive: u.is_active });
});

let userId;
await run("create", async () => {
  const res = await session.create("User", {
    username,
    first_name: "Ada",
    last_name: "Client",
    email: "ada.client@example.com",
    is_active: true,
  });
  const d = res?.data ?? {};
  check("create", res.action === "create", `action ${res.action}`);
  check("create", d.__entity_type__ === "User", `__entity_type__ ${d.__entity_type__}`);
  check("create", typeof d.id === "string" && d.id !== "", "no id in the created entity");
  check("create", d.username === username, `username ${d.username}`);
  check("create", d.is_active === true, `is_active ${d.is_active}`);
  userId = d.id;
  emit("create", { id: d.id, username: d.username, resourceType: d.resource_type ?? null });
});

await run("query", async () => {
  const expr = expression`select id, username, email from User where username is "${username}"`;
  const res = await session.query(expr);
  const rows = res?.data ?? [];
  check("query", rows.length === 1, `want 1 row, got ${rows.length}`);
  const u = rows[0];
  check("query", u.id === userId, `id ${u.id}`);
  check("query", u.email === "ada.client@example.com", `email ${u.email}`);
  emit("query", {
    rows: rows.length,
    id: u.id,
    username: u.username,
    email: u.email,
    next: res?.metadata?.next?.offset ?? null,
  });
});

await run("update", async () => {
  const res = await session.update("User", [userId], {
    first_name: "Adelaide",
    email: "adelaide.client@example.com",
    is_active: false,
  });
  const d = res?.data ?? {};
  check("update", res.action === "update", `action ${res.action}`);
  check("update", d.id === userId, `id ${d.id}`);
  check("update", d.first_name === "Adelaide", `first_name ${d.first_name}`);
  const back = await session.query(
    `select first_name, email, is_active from User where id is "${userId}"`,
  );
  const u = back.data[0] ?? {};
  check("update", u.first_name === "Adelaide" && u.email === "adelaide.client@example.com" && u.is_active === false,
    "queried user does not show the update", { got: u });
  emit("update", { id: d.id, firstName: u.first_name, email: u.email, isActive: u.is_active });
});

let groupId;
let membershipId;
await run("group", async () => {
  const g = await session.create("Group", { name: groupName, local: true });
  check("group", g.data?.__entity_type__ === "Group" && g.data?.name === groupName, "group not created", { got: g.data });
  groupId = g.data.id;
  const m = await session.create("Membership", { user_id: userId, group_id: groupId });
  check("group", m.data?.__entity_type__ === "Membership", "membership not created", { got: m.data });
  check("group", m.data.user_id === userId && m.data.group_id === groupId, "membership ids differ", { got: m.data });
  membershipId = m.data.id;
  emit("group", { groupId, membershipId });
});

await run("membership_query", async () => {
  const res = await session.query("select user.username, group.name from Membership");
  const rows = res?.data ?? [];
  const hit = rows.filter((r) => r.user?.username === username && r.group?.name === groupName);
  check("membership_query", hit.length === 1, `want 1 membership of ${username} in ${groupName}, got ${hit.length}`, { rows: rows.length });
  check("membership_query", hit[0].id === membershipId, `membership id ${hit[0].id}`);
  check("membership_query", hit[0].user.__entity_type__ === "User" && hit[0].group.__entity_type__ === "Group",
    "nested entities lack __entity_type__");
  // The same user reached twice: the server sends the second occurrence as
  // a reference (type + id) and the client merges it by primary key.
  const again = await session.query(
    `select id, username, memberships.user.username from User where username is "${username}"`,
  );
  const merged = (again.data[0]?.memberships ?? []).map((m) => m.user?.username);
  check("membership_query", merged.length === 1 && merged[0] === username,
    `memberships.user.username ${JSON.stringify(merged)} (reference not merged)`);
  emit("membership_query", { mergedUsernames: merged, rows: rows.length, id: hit[0].id, user: hit[0].user.username, group: hit[0].group.name });
});

const strict = new Session(serverURL, apiUser, apiKey, {
  autoConnectEventHub: false,
  strictApi: true,
  ensureSerializableResponse: true,
});
await run("strict_query", async () => {
  await strict.initializing;
  const res = await strict.query(
    `select id, username, memberships.group.name, memberships.user.username from User where username is "${username}"`,
  );
  const rows = res?.data ?? [];
  check("strict_query", rows.length === 1 && rows[0].id === userId, `want the user, got ${rows.length} rows`);
  const ms = rows[0].memberships ?? [];
  const groups = ms.map((m) => m.group?.name);
  check("strict_query", groups.includes(groupName), `memberships.group.name ${JSON.stringify(groups)}`);
  // memberships.user is the top-level user again: denormalized, it must be
  // encoded in full (a de-duplicated reference would carry only the id).
  const nested = ms.map((m) => m.user?.username);
  check("strict_query", nested.length > 0 && nested.every((u) => u === username),
    `memberships.user.username ${JSON.stringify(nested)} (repeated entity not denormalized)`);
  emit("strict_query", { rows: rows.length, id: rows[0].id, groups, nestedUsernames: nested });
});

// A duplicate username must be refused, by the normal and the strict
// session alike (strict: a 4xx status with the same exception body).
for (const [step, s] of [["duplicate", session], ["strict_duplicate", strict]]) {
  let rejected;
  try {
    const res = await s.create("User", { username, is_active: true });
    fail(step, "duplicate username was accepted", { got: res?.data ?? null });
  } catch (err) {
    rejected = err;
  }
  check(step, isServerError(rejected), "rejection is not a ServerError-family error", errorFields(rejected));
  emit(step, errorFields(rejected));
}

await run("bad_key", async () => {
  const bad = new Session(serverURL, apiUser, apiKey + "-wrong", {
    autoConnectEventHub: false,
  });
  let rejected;
  try {
    await bad.initializing;
  } catch (err) {
    rejected = err;
  }
  check("bad_key", rejected !== undefined, "session with a bad key initialised");
  check("bad_key", isServerError(rejected), "rejection is not a ServerError-family error", errorFields(rejected));
  emit("bad_key", errorFields(rejected));
});

if (pause) {
  emit("pause", {});
  const rl = createInterface({ input: process.stdin });
  await new Promise((resolve) => {
    rl.once("line", resolve);
    rl.once("close", resolve);
  });
  rl.close();
}

await run("delete", async () => {
  const res = await session.delete("User", [userId]);
  check("delete", res?.action === "delete" && res?.data === true, "unexpected delete answer", { got: res });
  const back = await session.query(`select id from User where id is "${userId}"`);
  check("delete", back.data.length === 0, `user still there (${back.data.length} rows)`);
  emit("delete", { id: userId });
});

emit("done", {});
