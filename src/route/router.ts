/**
 * Routes: which sinks each message goes to. Routes are tried in order; each whose match holds
 * adds its sinks, until one that is final, drops, samples the message out or finds its source
 * over the rate limit. A message no route takes goes to the default sink, or is dropped as
 * `unrouted`. Runs on the main thread before batching, so each sink gets its own records.
 *
 * A message's sinks are a bit set (bit i: the i-th sink), so that the ingest groups messages
 * by their set without allocating.
 *
 * @module
 */
import type { MatchSpec, RouteSpec } from "../config/pipeline.ts";
import { SourceFilter } from "../listen/source_filter.ts";
import type { EventFields } from "./event_fields.ts";
import { RateLimiter } from "./rate_limiter.ts";

/** Why a message went to no sink (the `reason` label of `kinesyslog_messages_dropped_total`). */
export const ROUTE_DROP_REASONS = ["filtered", "sampled", "rate_limited", "unrouted"] as const;
/** Why a message went to no sink. */
export type RouteDropReason = typeof ROUTE_DROP_REASONS[number];

/** The listener a message came in on, as routes know it. */
export interface RouteListener {
  /** The name given in the configuration (or the label). */
  name: string;
  /** The metrics label, `udp/514`. */
  label: string;
}

/** Options of {@linkcode Router}. */
export interface RouterOptions {
  routes: readonly RouteSpec[];
  /** The sinks by index: bit i of a message's set is `sinks[i]`. */
  sinks: readonly string[];
  /** Where a message no route takes goes; `undefined`: dropped as `unrouted`. */
  defaultSink: string | undefined;
  /** The clock, in ms, for rate limits. @default {Date.now} */
  now?: () => number;
}

/** A route, compiled. */
interface Route {
  spec: RouteSpec;
  /** The bit set of its sinks. */
  sinks: number;
  /** Whether the route reads the message (not only its listener and source). */
  readsMessage: boolean;
  matchesSource: (listener: RouteListener, source: string) => boolean;
  matchesMessage: (fields: EventFields) => boolean;
  limiter: RateLimiter | undefined;
  /** Matched messages so far, for sampling. */
  seen: number;
}

/** What became of one message: its sinks, or why it has none. */
export interface Verdict {
  sinks: number;
  /** Set when `sinks` is 0. */
  reason: RouteDropReason | undefined;
}

/**
 * Decides the sinks of each message.
 *
 * @example
 * ```ts
 * const router = new Router({ routes, sinks: ["security", "apps"], defaultSink: "apps" });
 * const verdict = router.route({ name: "fw", label: "udp/514" }, "10.1.2.3", fields.reset(bytes, undefined));
 * verdict.sinks; // 0b01: security
 * ```
 */
export class Router {
  readonly #routes: Route[];
  readonly #default: number;
  readonly #now: () => number;
  readonly #verdict: Verdict = { sinks: 0, reason: undefined };
  /** The listener and source of the last message, and whether each route's source part matched it. */
  #listener: RouteListener | undefined;
  #source = "";
  readonly #sourceMatches: boolean[];
  /** Messages each route sent to its sinks (or dropped, for a dropping route), by route index. */
  readonly taken: number[];
  /** Messages each route sampled out, by route index. */
  readonly sampledOut: number[];
  /** Messages each route found over its rate limit, by route index. */
  readonly limited: number[];
  /** Whether any route reads the message itself (else no message is parsed for routes). */
  readonly readsMessages: boolean;

  /** Compiles the routes; throws `RangeError` for a sink that is not in `sinks` or a bad range or expression. */
  constructor(options: RouterOptions) {
    const bit = (name: string) => {
      const i = options.sinks.indexOf(name);
      if (i < 0) throw new RangeError(`Unknown sink '${name}'`);
      return 1 << i;
    };
    this.#routes = options.routes.map((spec) => compile(spec, bit));
    this.#default = options.defaultSink === undefined ? 0 : bit(options.defaultSink);
    this.#now = options.now ?? Date.now;
    this.#sourceMatches = this.#routes.map(() => false);
    this.taken = this.#routes.map(() => 0);
    this.sampledOut = this.#routes.map(() => 0);
    this.limited = this.#routes.map(() => 0);
    this.readsMessages = this.#routes.some((r) => r.readsMessage);
  }

  /** The routes' names, by index. */
  get names(): string[] {
    return this.#routes.map((r) => r.spec.name);
  }

  /**
   * The sinks of one message from `source` on `listener` (`fields` is read only when a route
   * reads the message). The verdict object is reused: read it before the next call.
   */
  route(listener: RouteListener, source: string, fields: EventFields | undefined): Verdict {
    const verdict = this.#verdict;
    const matched = this.#sourceMatches;
    if (listener !== this.#listener || source !== this.#source) {
      // Messages of one read share their listener and source: their ranges are checked once.
      for (let i = 0; i < this.#routes.length; i++) matched[i] = this.#routes[i]!.matchesSource(listener, source);
      this.#listener = listener;
      this.#source = source;
    }
    let sinks = 0;
    let reason: RouteDropReason | undefined;
    for (let i = 0; i < this.#routes.length; i++) {
      const r = this.#routes[i]!;
      if (!matched[i]) continue;
      if (r.readsMessage && (fields === undefined || !r.matchesMessage(fields))) continue;
      if (r.spec.sample > 1 && r.seen++ % r.spec.sample !== 0) {
        this.sampledOut[i]!++;
        reason = "sampled";
        break;
      }
      if (r.limiter !== undefined && r.limiter.take(source, 1, this.#now()) === 0) {
        this.limited[i]!++;
        reason = "rate_limited";
        break;
      }
      this.taken[i]!++;
      if (r.spec.drop) {
        reason = "filtered";
        break;
      }
      sinks |= r.sinks;
      if (r.spec.final) break;
    }
    if (sinks === 0 && reason === undefined) {
      sinks = this.#default;
      if (sinks === 0) reason = "unrouted";
    }
    verdict.sinks = sinks;
    verdict.reason = sinks === 0 ? reason : undefined;
    return verdict;
  }
}

/**
 * The router of a pipeline's routes over `sinks`, or undefined where there is nothing to
 * decide: no routes and one sink that takes every message.
 */
export function routerOf(
  p: { routes: readonly RouteSpec[]; defaultSink: string | undefined },
  sinks: readonly string[],
): Router | undefined {
  if (p.routes.length === 0 && sinks.length === 1 && p.defaultSink === sinks[0]) return undefined;
  return new Router({ routes: p.routes, sinks, defaultSink: p.defaultSink });
}

function compile(spec: RouteSpec, bit: (name: string) => number): Route {
  const m = spec.match;
  const sources = m.sources === undefined ? undefined : SourceFilter.parse(m.sources);
  const listeners = m.listeners === undefined ? undefined : new Set(m.listeners);
  return {
    spec,
    sinks: spec.sinks.reduce((set, name) => set | bit(name), 0),
    readsMessage: readsMessage(m),
    matchesSource: (listener, source) =>
      (listeners === undefined || listeners.has(listener.name) || listeners.has(listener.label)) &&
      (sources === undefined || sources.allows(source)),
    matchesMessage: messageMatcher(m),
    limiter: spec.rateLimit === undefined ? undefined : new RateLimiter(spec.rateLimit),
    seen: 0,
  };
}

function readsMessage(m: MatchSpec): boolean {
  return m.facilities !== undefined || m.severity !== undefined || m.hostnames !== undefined ||
    m.appNames !== undefined || m.message !== undefined;
}

/** The checks of a match on the message itself, cheapest first. */
function messageMatcher(m: MatchSpec): (fields: EventFields) => boolean {
  const checks: ((f: EventFields) => boolean)[] = [];
  if (m.facilities !== undefined) {
    const facilities = m.facilities.reduce((set, code) => set | (1 << code), 0);
    checks.push((f) => (facilities & (1 << f.facility)) !== 0);
  }
  if (m.severity !== undefined) {
    const severity = m.severity;
    checks.push((f) => f.severity <= severity);
  }
  if (m.hostnames !== undefined) {
    const hosts = new Set(m.hostnames.map((h) => h.toLowerCase()));
    checks.push((f) => hosts.has(f.hostname?.toLowerCase() ?? ""));
  }
  if (m.appNames !== undefined) {
    const apps = new Set(m.appNames);
    checks.push((f) => apps.has(f.appName ?? ""));
  }
  if (m.message !== undefined) {
    const pattern = new RegExp(m.message);
    checks.push((f) => pattern.test(f.text));
  }
  return (f) => checks.every((check) => check(f));
}
