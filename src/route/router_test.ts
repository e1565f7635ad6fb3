import { assertEquals } from "../../tests/assert.ts";
import type { RouteSpec } from "../config/pipeline.ts";
import { EventFields } from "./event_fields.ts";
import { Router } from "./router.ts";

const encoder = new TextEncoder();
const UDP = { name: "firewalls", label: "udp/514" };
const TCP = { name: "tcp/601", label: "tcp/601" };

function route(name: string, fields: Partial<RouteSpec>): RouteSpec {
  return { name, match: {}, sinks: [], drop: false, final: false, sample: 1, rateLimit: undefined, ...fields };
}

function syslog(text: string): EventFields {
  return new EventFields().reset(encoder.encode(text), undefined);
}

const SINKS = ["security", "apps", "archive"];
const SECURITY = 1, APPS = 2, ARCHIVE = 4;

Deno.test("Router sends a message to the sinks of every route that matches it", async (t) => {
  const router = new Router({
    routes: [
      route("fw", { match: { sources: ["10.1.0.0/16"], facilities: [4, 10] }, sinks: ["security"] }),
      route("errors", { match: { severity: 3 }, sinks: ["archive"] }),
      route("nginx", { match: { appNames: ["nginx"], listeners: ["tcp/601"] }, sinks: ["apps"] }),
      route("host", { match: { hostnames: ["DB1"], message: "disk (full|failed)" }, sinks: ["apps", "archive"] }),
    ],
    sinks: SINKS,
    defaultSink: "archive",
  });
  const table: [string, { name: string; label: string }, string, string, number][] = [
    ["auth.err from the firewalls' range", UDP, "10.1.2.3", "<35>Oct 11 22:14:15 fw sshd: bad", SECURITY | ARCHIVE],
    ["auth.info from elsewhere: default", UDP, "10.2.0.1", "<38>Oct 11 22:14:15 fw sshd: ok", ARCHIVE],
    ["nginx on the TCP listener", TCP, "10.9.0.1", "<14>1 2024-01-01T00:00:00Z web nginx - - - GET /", APPS],
    [
      "nginx on another listener: default",
      UDP,
      "10.9.0.1",
      "<14>1 2024-01-01T00:00:00Z web nginx - - - GET /",
      ARCHIVE,
    ],
    [
      "host name any case, message by expression",
      UDP,
      "10.9.0.1",
      "<14>Oct 11 22:14:15 db1 app: disk full",
      APPS | ARCHIVE,
    ],
    ["no PRI is user.notice", UDP, "10.1.0.1", "just text", ARCHIVE],
  ];
  for (const [name, listener, source, text, sinks] of table) {
    await t.step(name, () => assertEquals(router.route(listener, source, syslog(text)).sinks, sinks));
  }
});

Deno.test("Router drops what a dropping route matches, before later routes and the default", () => {
  const router = new Router({
    routes: [
      route("no-debug", { match: { sources: ["10.5.0.0/16"] }, drop: true }),
      route("all", { sinks: ["apps"] }),
    ],
    sinks: SINKS,
    defaultSink: "archive",
  });
  const dropped = router.route(UDP, "10.5.1.1", syslog("<15>x"));
  assertEquals({ ...dropped }, { sinks: 0, reason: "filtered" });
  assertEquals(router.route(UDP, "10.6.1.1", syslog("<15>x")).sinks, APPS);
  assertEquals(router.taken, [1, 1]);
});

Deno.test("Router counts a message no route takes as unrouted without a default sink", () => {
  const router = new Router({
    routes: [route("a", { match: { severity: 0 }, sinks: ["apps"] })],
    sinks: SINKS,
    defaultSink: undefined,
  });
  assertEquals({ ...router.route(UDP, "10.0.0.1", syslog("<14>x")) }, { sinks: 0, reason: "unrouted" });
});

Deno.test("Router stops at a final route", () => {
  const router = new Router({
    routes: [route("first", { sinks: ["security"], final: true }), route("second", { sinks: ["apps"] })],
    sinks: SINKS,
    defaultSink: undefined,
  });
  assertEquals(router.route(UDP, "10.0.0.1", syslog("<14>x")).sinks, SECURITY);
});

Deno.test("Router keeps 1 in N of a sampling route's messages and drops the rest as sampled", () => {
  const router = new Router({
    routes: [route("s", { sinks: ["apps"], sample: 4 })],
    sinks: SINKS,
    defaultSink: "archive",
  });
  const sinks = Array.from({ length: 12 }, () => router.route(UDP, "10.0.0.1", syslog("<14>x")).sinks);
  assertEquals(sinks.filter((s) => s === APPS).length, 3);
  assertEquals(sinks.filter((s) => s === 0).length, 9);
  assertEquals(router.sampledOut, [9]);
});

Deno.test("Router cuts a source to its rate limit and leaves the others their own", () => {
  let now = 0;
  const router = new Router({
    routes: [route("cap", { sinks: ["apps"], rateLimit: { messages: 10, burst: 5 } })],
    sinks: SINKS,
    defaultSink: undefined,
    now: () => now,
  });
  const passed = (source: string, n: number) =>
    Array.from({ length: n }, () => router.route(UDP, source, syslog("<14>x")).sinks).filter((s) => s !== 0).length;
  assertEquals(passed("10.0.0.1", 20), 5);
  assertEquals(passed("10.0.0.2", 3), 3);
  now = 1000;
  assertEquals(passed("10.0.0.1", 20), 5);
  assertEquals(router.limited, [30]);
  assertEquals(router.route(UDP, "10.0.0.1", syslog("<14>x")).reason, "rate_limited");
});

Deno.test("Router reads GELF messages' host, level and application name", () => {
  const router = new Router({
    routes: [route("gelf", { match: { hostnames: ["web-1"], severity: 4, appNames: ["shop"] }, sinks: ["apps"] })],
    sinks: SINKS,
    defaultSink: undefined,
  });
  const gelf = (fields: Record<string, unknown>) =>
    new EventFields().reset(new Uint8Array(0), { short_message: "m", ...fields });
  assertEquals(router.route(UDP, "10.0.0.1", gelf({ host: "web-1", level: 3, _app_name: "shop" })).sinks, APPS);
  assertEquals(router.route(UDP, "10.0.0.1", gelf({ host: "web-1", level: 6, _app_name: "shop" })).sinks, 0);
});
