// The Node.js peer of benches/compare/run: an in-memory SCIM 2.0 server built
// the way the scimmy-routers README and example wire it: SCIMMY parses,
// validates, filters and applies PATCH; this file only stores users in a Map.
//
//   node node-peer.js --port 18081 --token SECRET
//
// Serves /scim/v2/Users (POST, GET by id, GET with filter, PUT, PATCH,
// DELETE) behind a static bearer token. Prints "listening on URL" once up.
// A `userName eq "…"` filter is answered from an index (the obvious thing a
// real implementation does with a database); any other filter is matched by
// SCIMMY over every user.

import crypto from "node:crypto";
import { parseArgs } from "node:util";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const { values: args } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "18081" },
    token: { type: "string" },
  },
});
if (!args.token) {
  console.error("node-peer.js: --token is required");
  process.exit(2);
}

/** id → stored user (plain object, as SCIMMY's schema coerced it). */
const users = new Map();
/** lower-cased userName → id (userName is caseExact=false in RFC 7643). */
const byUserName = new Map();

const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);

/** The user name of a lone `userName eq "…"` filter, else undefined. */
function userNameEquals(filter) {
  if (!filter || filter.length !== 1) return undefined;
  const keys = Object.keys(filter[0]);
  if (keys.length !== 1 || keys[0] !== "userName") return undefined;
  const [op, value] = filter[0].userName;
  return op === "eq" && typeof value === "string" ? value : undefined;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User, {
  egress: (resource) => {
    if (resource.id) {
      const user = users.get(resource.id);
      if (!user) throw notFound(resource.id);
      return user;
    }
    const name = userNameEquals(resource.filter);
    if (name !== undefined) {
      const id = byUserName.get(name.toLowerCase());
      return id === undefined ? [] : [users.get(id)];
    }
    const all = [...users.values()];
    return resource.filter ? resource.filter.match(all) : all;
  },

  ingress: (resource, instance) => {
    // A plain copy: the instance is a SCIMMY schema object.
    const data = JSON.parse(JSON.stringify(instance));
    const key = String(data.userName).toLowerCase();
    const holder = byUserName.get(key);
    const now = new Date().toISOString();
    if (resource.id) {
      const old = users.get(resource.id);
      if (!old) throw notFound(resource.id);
      if (holder !== undefined && holder !== resource.id) {
        throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} is taken`);
      }
      byUserName.delete(String(old.userName).toLowerCase());
      byUserName.set(key, resource.id);
      const user = { ...data, id: resource.id, meta: { created: old.meta.created, lastModified: now } };
      users.set(resource.id, user);
      return user;
    }
    if (holder !== undefined) {
      throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} is taken`);
    }
    const id = crypto.randomUUID();
    const user = { ...data, id, meta: { created: now, lastModified: now } };
    users.set(id, user);
    byUserName.set(key, id);
    return user;
  },

  degress: (resource) => {
    const user = users.get(resource.id);
    if (!user) throw notFound(resource.id);
    users.delete(resource.id);
    byUserName.delete(String(user.userName).toLowerCase());
  },
});

const app = express();
app.disable("x-powered-by");
app.use(
  "/scim/v2",
  new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.com/bench/auth",
    handler: (request) => {
      if (request.header("Authorization") !== `Bearer ${args.token}`) {
        throw new Error("invalid bearer token");
      }
      return "bench";
    },
  }),
);

const server = app.listen(Number(args.port), args.host, () => {
  console.log(`listening on http://${args.host}:${args.port}/scim/v2`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
