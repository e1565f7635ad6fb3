/**
 * The relay, assembled: listeners -> ingest -> batcher -> spool worker -> spool -> uploader.
 * Startup binds every listener before anything runs, so a configuration error leaves
 * nothing half-started. Shutdown stops intake, drains connections for a grace period,
 * spools every buffered message, and makes a last delivery attempt.
 *
 * @module
 */
import { Batcher } from "./batch/batcher.ts";
import type { Config } from "./config/config.ts";
import { largestRecord, UNKNOWN_OWNER } from "./firehose/record_sink.ts";
import { bindAll, type BindOptions, type Bound, closeAll, isNotAnAddress, notAnAddress } from "./listen/bind.ts";
import { readTlsMaterial, reportRevocation } from "./listen/tls_material.ts";
import { Deliveries } from "./firehose/deliveries.ts";
import { type OpenSinks, openSinks } from "./firehose/open_sinks.ts";
import { StartupError } from "./config/config_error.ts";
import type { SinkSpec } from "./config/pipeline.ts";
import { ROUTE_DROP_REASONS, type Router, routerOf } from "./route/router.ts";
import { Ingest } from "./listen/ingest.ts";
import { DEFAULT_MAX_BACKLOG_BYTES, Pressure } from "./listen/pressure.ts";
import { relpProtocol } from "./listen/relp_protocol.ts";
import { relpDurability } from "./listen/relp_durability.ts";
import { MemoryLedger } from "./journal/memory_ledger.ts";
import type { ConnectionLimits } from "./listen/stream_listener.ts";
import { TlsTerminator } from "./listen/tls_terminator.ts";
import { SourceFilter } from "./listen/source_filter.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics/metrics.ts";
import { declareKnownSeries } from "./known_series.ts";
import { metricsRoutes, MetricsServer } from "./metrics/metrics_server.ts";
import { CachedProbe, judgeReadiness, type Readiness } from "./metrics/readiness.ts";
import { SpoolUsage } from "./spool/spool_usage.ts";
import { spoolOutcome } from "./spool/spool_outcome.ts";
import { JournalShedding } from "./journal/journal_shedding.ts";
import type { SetAside } from "./spool/own_paths.ts";
import { QUARANTINE_DIR, sinkSpoolDir, SpoolDir, type SpoolEntry, unconfiguredSpools } from "./spool/spool_dir.ts";
import { InstanceFile } from "./spool/instance_file.ts";
import { planReload, unchanged } from "./relay/reload_plan.ts";
import { ListenerSet } from "./listen/listener_set.ts";
import { applySinks, ingestSinksOf, type RunningSink, sharesBuffers, workerSinkOf } from "./relay/sink_slots.ts";
import { Journal } from "./journal/journal.ts";
import { replayJournal } from "./journal/journal_replay.ts";
import { SpoolWorkerClient } from "./spool/spool_worker_client.ts";
import { VERSION } from "./version.ts";
import { timerDelay } from "./timer.ts";
import { CredentialsWatch } from "./firehose/credentials_watch.ts";
import { TRIM_INTERVAL_MS } from "./allocator.ts";

/** Longest wait at shutdown for the worker to spool what was buffered, in ms. */
export const SHUTDOWN_SPOOL_TIMEOUT_MS = 30_000;
/** Longest last delivery attempt at shutdown, in ms. */
export const SHUTDOWN_UPLOAD_TIMEOUT_MS = 10_000;
/** How often buffers are checked for age, at most, in ms. */
const FLUSH_CHECK_MS = 1_000;
/**
 * How often the relay looks at itself while nothing is buffered, in via the spool workers
 * or held back, in ms: an idle relay sleeps (a buffer that opens wakes it), and its gauges
 * are at most this old.
 */
export const IDLE_CHECK_MS = 30_000;
/** What the program around the relay does for it. */
export interface RelayHooks {
  /**
   * Hands free memory back to the system (`Allocator.trim`): called at most every
   * `TRIM_INTERVAL_MS` while the relay works, and once when it goes idle.
   */
  trim?: () => void;
  /**
   * Reloads as SIGHUP does (the certificates, and the `--config` file), for `POST /-/reload`
   * with `--metrics-reload`; resolves to the result (`ok`, `unchanged`, `invalid`, `restart_needed`).
   */
  reload?: () => Promise<string>;
}

/** The journal's directory, inside the spool directory. */
export const JOURNAL_DIR = "journal";
/** `/ready` probes the spool directory at most this often, in ms. */
const SPOOL_PROBE_INTERVAL_MS = 1_000;

/** A running relay. */
export class Relay {
  readonly #config: Config;
  readonly #log: Logger;
  readonly metrics = new Metrics();
  readonly #spool: SpoolDir;
  /** Every sink the relay has run since it started, by slot (`relay/sink_slots.ts`). */
  readonly #sinks: RunningSink[];
  readonly #sink: OpenSinks;
  /** Closes the destinations reloads opened. */
  readonly #closers: (() => void)[] = [];
  readonly #worker: SpoolWorkerClient;
  readonly #batcher: Batcher;
  readonly #uploader: Deliveries;
  #router: Router | undefined;
  readonly #listeners: ListenerSet;
  readonly #servers: MetricsServer[] = [];
  readonly #pressure: Pressure;
  readonly #journal: Journal | undefined;
  /** The spool's instance: the id and sequence numbers of events. */
  readonly #instance: InstanceFile;
  /**
   * Without a journal and with RELP listeners: events on their way to the spool, counted in
   * memory, for RELP acknowledgements that wait for the spool.
   */
  readonly #ledger: MemoryLedger | undefined;
  readonly #ingest: Ingest;
  /** What counts against `--spool-max-size`. */
  readonly #usage: SpoolUsage;
  readonly #shedding: JournalShedding | undefined;
  /** `/ready`'s probe of the spool directory. */
  readonly #spoolProbe: CachedProbe;
  /** Every listener serves. */
  #started = false;
  /** Whether the sink has AWS credentials (Firehose only). */
  readonly #credentials: CredentialsWatch | undefined;
  /** The next look at the buffers, the journal and the workers ({@linkcode Relay.#tick}). */
  #tickTimer: ReturnType<typeof setTimeout> | undefined;
  /** When {@linkcode Relay.#tickTimer} fires (Infinity: none set, or ticking is over). */
  #tickAt = Infinity;
  #ticking = false;
  /** Whether the last tick found work: the first idle one trims once more. */
  #wasBusy = false;
  /** When memory was last handed back to the system. */
  #trimmedAt = 0;
  #trim: (() => void) | undefined;
  #shutdown: Promise<void> | undefined;
  /** Why the relay stopped by itself, when it did. */
  crashed: string | undefined;

  readonly #lookupOwner: () => Promise<{ account?: string | undefined; error?: string | undefined }>;
  /** The records' owner, once looked up. */
  #owner: string | undefined;
  readonly #tls: TlsTerminator | undefined;

  private constructor(
    config: Config,
    log: Logger,
    spools: SpoolDir[],
    sink: OpenSinks,
    bound: Bound[],
    tls: TlsTerminator | undefined,
    kept: { journal: Journal | undefined; instance: InstanceFile },
  ) {
    const { journal, instance } = kept;
    this.#config = config;
    this.#journal = journal;
    this.#instance = instance;
    const { sinks, routes, defaultSink } = config.pipeline;
    const relpListening = config.pipeline.sources.some((s) => s.protocol === "relp");
    this.#ledger = journal === undefined && relpListening ? new MemoryLedger() : undefined;
    this.#tls = tls;
    this.#log = log;
    this.#spool = new SpoolDir(config.spoolDir);
    this.#sinks = sinks.map((spec, i) => ({
      spec,
      active: true,
      spool: spools[i]!,
      destinations: sink.destinations[i]!,
    }));
    this.#sink = sink;
    this.#lookupOwner = sink.owner;
    this.#credentials = sink.credentials === undefined ? undefined : new CredentialsWatch(sink.credentials, log);
    const metrics = this.metrics;
    this.#usage = new SpoolUsage(() => this.#worker.backlogBytes, journal);
    this.#shedding = journal === undefined ? undefined : new JournalShedding(journal, metrics, log);
    const outcome = spoolOutcome({
      usage: this.#usage,
      shedding: this.#shedding,
      batcher: {
        observeCompression: (ratio) => this.#batcher.observeCompression(ratio),
        requeue: (events) => this.#batcher.requeue(events),
      },
      deliver: (sink, entries) => this.#uploader.add(sink, entries),
      eventLog: () => this.#journal ?? this.#ledger,
      metrics,
      log,
      workers: { most: config.spoolWorkers, memoryLimit: config.workerMemoryLimit },
      onCrash: (error) => {
        this.crashed = error;
        void this.shutdown();
      },
      onChange: () => this.#updateGauges(),
    });
    this.#worker = new SpoolWorkerClient(config.spoolDir, outcome, {
      count: config.spoolWorkers,
      ...(config.workerMemoryLimit > 0
        ? { fits: (bytes: number) => Deno.memoryUsage().rss + bytes <= config.workerMemoryLimit }
        : {}),
      sinks: this.#sinks.map(workerSinkOf),
      instance: instance.id,
    });
    this.#batcher = new Batcher({
      onFlush: (batch, reason) => {
        metrics.batchesFlushed.inc({ reason });
        this.#worker.submit(batch);
      },
      // A buffer that opens is flushed within --flush-interval: the tick wakes (an idle relay sleeps).
      onOpen: () => this.#schedule(this.#checkMs),
      flushBytes: config.flushSize,
      maxOpenBuffers: config.maxOpenBuffers,
      // A sink whose records say each event's source (NDJSON) packs quiet sources together,
      // unless its records are keyed by their source (`--partition-key source`).
      sharedSinks: sinks.map(sharesBuffers),
      flushIntervalMs: config.flushInterval * 1000,
    });
    this.#uploader = new Deliveries({
      sinks: this.#sinks.map((s) => ({ name: s.spec.name, spool: s.spool, destinations: s.destinations })),
      metrics,
      log,
      onRemoved: (bytes, records) => {
        this.#usage.removed(bytes, records);
        this.#updateGauges();
      },
    });
    metrics.live.spoolWorkers = () => this.#worker.running;
    metrics.workerMemoryLimit.set(config.workerMemoryLimit);
    metrics.live.spoolOldestAgeSeconds = () => {
      const created = this.#uploader.oldestPendingMs;
      return created === undefined ? 0 : Math.max(0, Date.now() - created) / 1000;
    };
    metrics.live.deliveryPauseSeconds = () => this.#uploader.paceMs / 1000;
    metrics.live.streams = () => this.#uploader.streams;
    metrics.spoolLimitBytes.set(config.spoolMaxSize);
    metrics.live.deliveryFailingSeconds = () => {
      const since = this.#uploader.failingSince;
      return since === undefined ? 0 : (Date.now() - since) / 1000;
    };
    this.#spoolProbe = new CachedProbe(() => this.#spool.probe(), SPOOL_PROBE_INTERVAL_MS, (error) => {
      log.limited("error", "spool-probe", "The spool directory cannot be written; /ready fails", { error });
    });
    this.#pressure = new Pressure({
      spoolBytes: () => this.#usage.counted,
      spoolMaxBytes: config.spoolMaxSize,
      backlogBytes: () => this.#worker.backlogBytes,
      maxBacklogBytes: DEFAULT_MAX_BACKLOG_BYTES,
      journalBacklogBytes: () => this.#journal?.backlogBytes ?? 0,
    });
    const names = sinks.map((s) => s.name);
    const router = routerOf({ routes, defaultSink }, names);
    this.#router = router;
    metrics.live.routeCounts = () => routeCounts(this.#router);
    const ingest = new Ingest(this.#batcher, this.#pressure, metrics, log, journal ?? this.#ledger, {
      sinks: ingestSinksOf(this.#sinks, defaultSink),
      router,
      numbers: instance,
    });
    this.#ingest = ingest;
    const relp = relpProtocol({
      durable: relpDurability({
        journal,
        ledger: this.#ledger,
        flush: (info, source) => ingest.flushSource(info, source),
        ack: config.relpAck,
      }),
      software: { name: "kinesyslog", version: VERSION, url: "https://github.com/kinesyslog/kinesyslog" },
    });
    this.#listeners = new ListenerSet({
      ingest,
      tls,
      relp,
      allowFrom: SourceFilter.parse(config.allowFrom),
      bind: bindOptions(config),
      graceMs: config.shutdownGrace * 1000,
      udpRecvBuffer: config.udpRecvBuffer,
      metrics,
      log,
    });
    for (const b of bound) this.#listeners.add(b);
    declareKnownSeries(metrics, {
      listeners: bound.map((b) => ({
        label: b.source.label,
        kind: b.kind,
        format: b.source.protocol === "gelf" ? "gelf" : "syslog",
        relp: b.source.protocol === "relp",
      })),
      streams: sink.destinations.flat().map((s) => s.name),
      tls: tls !== undefined,
      sinks: names,
      routeDrops: router === undefined ? [] : ROUTE_DROP_REASONS,
      reloads: config.configFile !== undefined,
    });
  }

  /**
   * Checks the configuration against the machine (spool, certificates, ports), binds every
   * listener, and starts the relay. Throws {@linkcode StartupError} and leaves nothing open
   * when any part cannot start.
   */
  static async start(config: Config, log: Logger, hooks: RelayHooks = {}): Promise<Relay> {
    const spools = config.pipeline.sinks.map((s) => new SpoolDir(sinkSpoolDir(config.spoolDir, s.name)));
    const setAside: SetAside[] = [];
    try {
      // The top of the spool directory first: it holds the others (and is the `default` sink's).
      setAside.push(...await new SpoolDir(config.spoolDir).prepare());
      for (const spool of spools) if (spool.dir !== config.spoolDir) setAside.push(...await spool.prepare());
    } catch (error) {
      throw new StartupError(`${(error as Error).message} (--spool-dir)`);
    }
    let instance: InstanceFile;
    try {
      instance = await InstanceFile.open({
        dir: config.spoolDir,
        quarantineDir: `${config.spoolDir}/${QUARANTINE_DIR}`,
        onError: (error) => log.limited("error", "instance-write", "Cannot write the spool's instance file", { error }),
      });
    } catch (error) {
      throw new StartupError(`Cannot use spool directory '${config.spoolDir}': ${(error as Error).message}`);
    }
    setAside.push(...instance.setAside);
    let tls: TlsTerminator | undefined;
    const tlsPorts = config.pipeline.sources.filter((s) => s.transport === "tls").map((s) => s.port);
    if (tlsPorts.length > 0) {
      const policy = {
        mode: config.clientAuth,
        allow: config.clientAllow,
        minVersion: config.tlsMinVersion,
        ciphers: { tls12: config.tlsCiphers, tls13: config.tlsCiphersuites },
      };
      try {
        tls = new TlsTerminator(await readTlsMaterial(config), policy);
      } catch (error) {
        throw new StartupError(`Cannot listen on TLS port ${tlsPorts.join(", ")}: ${(error as Error).message}`);
      }
      reportRevocation(tls, log);
    }
    const sink = await openSinks(config.pipeline.sinks, { ...config, log });
    let bound: Bound[];
    try {
      bound = await bindAll(config.pipeline.sources, bindOptions(config), log);
    } catch (error) {
      sink.close();
      throw error;
    }
    // Journal errors are reported by the relay, which exists only once the journal is open.
    let reportJournalError: (error: string, attempt: number) => void = () => {};
    let journal: Journal | undefined;
    if (config.journal) {
      try {
        journal = await Journal.open({
          dir: `${config.spoolDir}/${JOURNAL_DIR}`,
          quarantineDir: `${config.spoolDir}/${QUARANTINE_DIR}`,
          fsyncIntervalMs: config.fsyncInterval * 1000,
          onError: (error, attempt) => reportJournalError(error, attempt),
        });
      } catch (error) {
        closeAll(bound);
        sink.close();
        throw new StartupError(
          `Cannot use the journal in '${config.spoolDir}/${JOURNAL_DIR}': ${(error as Error).message}`,
        );
      }
    }

    const servers: MetricsServer[] = [];
    let relay: Relay;
    try {
      relay = new Relay(config, log, spools, sink, bound, tls, { journal, instance });
      relay.#reportSetAside([...setAside, ...(journal?.setAside ?? [])]);
    } catch (error) {
      closeAll(bound);
      await journal?.close();
      throw error;
    }
    reportJournalError = (error, attempt) => {
      relay.metrics.journalWriteErrors.inc();
      log.limited("error", "journal-write", "Cannot write the journal; retrying (intake slows if it stays behind)", {
        error,
        attempt,
      });
    };
    try {
      for (const port of config.prometheusPorts) {
        const label = `metrics/${port}`;
        const reload = config.metricsReload ? hooks.reload : undefined;
        const routes = metricsRoutes(relay.metrics, () => relay.readiness(), reload);
        servers.push(MetricsServer.start(config.metricsAddress, port, routes, {
          maxConnections: config.metricsMaxConnections,
          onProblem: (reason, error) => relay.#metricsProblem(label, reason, error),
        }));
      }
    } catch (error) {
      for (const s of servers) await s.close();
      await relay.#listeners.close(0);
      relay.#worker.terminate();
      relay.#sink.close();
      await journal?.close();
      const why = (error as Error).message;
      throw new StartupError(
        isNotAnAddress(why) ? notAnAddress("metrics-address", config.metricsAddress, why) : why,
      );
    }
    relay.#servers.push(...servers);
    relay.#trim = hooks.trim;
    await relay.#run();
    return relay;
  }

  async #run(): Promise<void> {
    const config = this.#config;
    // Never blocks startup: records wait for the owner at most OWNER_TIMEOUT_MS. It is looked
    // up first, so that the journal's replay, which waits for the workers, is not waiting on it.
    void this.#lookupOwner().then(({ account, error }) => {
      if (account === undefined && error !== undefined) {
        this.#log.warn("Cannot get the AWS account id from STS; records carry owner 000000000000", {
          error,
          hint: "allow sts:GetCallerIdentity; in a private VPC, reach STS through an interface endpoint " +
            "(its regional name, or AWS_ENDPOINT_URL_STS)",
        });
      }
      this.#owner = account ?? UNKNOWN_OWNER;
      this.#worker.setOwner(this.#owner);
    });
    await this.#credentials?.check();
    let leftovers = 0;
    for (const [slot, { spool }] of this.#sinks.entries()) {
      const { records, setAside } = await spool.list();
      this.#reportSetAside(setAside);
      this.#queueLeftovers(slot, records);
      leftovers += records.length;
    }
    this.#uploader.start();
    for (
      const { sink, records } of await unconfiguredSpools(
        config.spoolDir,
        config.pipeline.sinks.map((s) => s.name),
      )
    ) {
      this.#log.warn("The spool holds records of a sink that is not configured: they wait until it is again", {
        sink,
        records,
        dir: sinkSpoolDir(config.spoolDir, sink),
      });
    }
    const replayed = this.#journal === undefined ? 0 : await replayJournal(this.#journal, {
      ingest: this.#ingest,
      pressure: this.#pressure,
      metrics: this.metrics,
      log: this.#log,
      quarantineDir: `${config.spoolDir}/${QUARANTINE_DIR}`,
    });
    this.#listeners.serve();
    this.#ticking = true;
    this.#schedule(this.#checkMs);
    this.#started = true;
    const one = config.pipeline.sinks.length === 1 ? config.pipeline.sinks[0] : undefined;
    this.#log.info("kinesyslog started", {
      version: VERSION,
      listeners: this.#listeners.labels.join(","),
      address: config.address,
      ...sinkFields(config.pipeline.sinks),
      routes: config.pipeline.routes.length || undefined,
      spool: config.spoolDir,
      instance: this.#instance.id,
      spoolMaxSize: config.spoolMaxSize,
      spoolWorkers: config.spoolWorkers,
      ...(one === undefined ? {} : {
        compressionLevel: one.compressionLevel,
        recordFormat: `${one.recordFormat}/${one.recordCompression}`,
      }),
      workerMemoryLimitMiB: Math.round(config.workerMemoryLimit / 1_048_576),
      tcpWorkers: config.tcpWorkers,
      leftoverRecords: leftovers,
      journal: this.#journal === undefined ? "off" : `fsync every ${config.fsyncInterval}s`,
      replayedMessages: replayed,
      metrics: config.prometheusPorts.map((p) => `http://${hostPort(config.metricsAddress, p)}/metrics`).join(",") ||
        undefined,
    });
  }

  /**
   * Applies a reloaded configuration (SIGHUP with `--config`): sources added are bound and
   * serve, sources removed stop taking connections (open ones get the grace period), and the
   * new routes apply from the next read on; unchanged listeners and their connections are not
   * touched. Sinks added, changed (where their records go, what they are) and removed apply
   * at a batch boundary (`applySinks`), their destinations opened and checked first
   * (`invalid` when one cannot be used). A change to anything else (a source's settings, any
   * option) changes nothing, and the log says what needs a restart; so does a source that
   * cannot be bound.
   * Rate limits and sampling start afresh with the new routes.
   */
  async reload(next: Config): Promise<"ok" | "unchanged" | "restart_needed" | "invalid"> {
    // One at a time (SIGHUP twice, or a signal and a POST): each plans against what the one
    // before it applied.
    const result = this.#reloading.then(() => this.#applyReload(next));
    this.#reloading = result.catch(() => {});
    const outcome = await result;
    this.metrics.configReloads.inc({ result: outcome });
    return outcome;
  }

  /** The reload in progress, if any (resolved when none). */
  #reloading: Promise<unknown> = Promise.resolve();

  async #applyReload(next: Config): Promise<"ok" | "unchanged" | "restart_needed" | "invalid"> {
    const running = this.#config;
    const log = this.#log;
    const plan = planReload(running, this.#sinks, next);
    if (plan.changed.length > 0) {
      log.error("SIGHUP: the configuration changes what a reload cannot; restart to apply it (nothing changed)", {
        changed: plan.changed.join(","),
      });
      return "restart_needed";
    }
    if (plan.added.some((s) => s.transport === "tls") && this.#tls === undefined) {
      log.error("SIGHUP: a TLS source needs the TLS settings the relay started without; restart to apply it", {
        added: plan.added.map((s) => s.label).join(","),
      });
      return "restart_needed";
    }
    if (unchanged(plan)) {
      log.info("SIGHUP: the configuration is unchanged");
      return "unchanged";
    }
    // Sinks added or changed get their destinations opened (streams checked) and their spool
    // ready before anything changes.
    const changing = plan.sinks.filter((s) => s.change !== "same");
    let opened: OpenSinks | undefined;
    /** Added sinks' spools, made ready, and the records an earlier run left in them. */
    const prepared = new Map<string, { slot: number; spool: SpoolDir; records: SpoolEntry[] }>();
    if (changing.length > 0) {
      try {
        opened = await openSinks(changing.map((s) => s.spec), { ...running, log });
        for (const s of changing.filter((s) => s.change === "added")) {
          const spool = new SpoolDir(sinkSpoolDir(running.spoolDir, s.spec.name));
          this.#reportSetAside(await spool.prepare());
          const { records, setAside } = await spool.list();
          this.#reportSetAside(setAside);
          prepared.set(s.spec.name, { slot: s.slot, spool, records });
        }
      } catch (error) {
        opened?.close();
        log.error("SIGHUP: cannot use a sink's new destinations or spool (nothing changed)", {
          error: (error as Error).message,
        });
        return "invalid";
      }
      // Records spooled for a sink keep their size: its new destinations must take them.
      const smaller = changing.filter((s, k) =>
        s.change !== "added" &&
        largestRecord(opened!.destinations[k]!.map((d) => d.sink)) <
          largestRecord(this.#sinks[s.slot]!.destinations.map((d) => d.sink))
      );
      if (smaller.length > 0) {
        opened!.close();
        log.error("SIGHUP: a sink's new destinations take smaller records than it spooled; restart to apply it", {
          sinks: smaller.map((s) => s.spec.name).join(","),
        });
        return "restart_needed";
      }
    }
    // The first AWS sink of a relay that had none: its records name the account (looked up
    // within OWNER_TIMEOUT_MS, before any of its records is built).
    const owner = opened !== undefined && this.#owner === UNKNOWN_OWNER ? (await opened.owner()).account : undefined;
    let added: Bound[];
    try {
      added = await bindAll(plan.added, bindOptions(running), log);
    } catch (error) {
      opened?.close();
      log.error("SIGHUP: cannot listen on a new source; restart to apply it (nothing changed)", {
        error: (error as Error).message,
      });
      return "restart_needed";
    }
    // From here on nothing waits: the change happens between two reads, at a batch boundary.
    if (opened !== undefined) {
      const sinks = opened;
      this.#closers.push(() => sinks.close());
      if (owner !== undefined) {
        this.#owner = owner;
        this.#worker.setOwner(owner);
      }
    }
    applySinks(this.#sinks, plan, opened?.destinations ?? [], {
      batcher: this.#batcher,
      worker: this.#worker,
      deliveries: this.#uploader,
      spoolOf: (name) => prepared.get(name)!.spool,
    });
    for (const { slot, records } of prepared.values()) this.#queueLeftovers(slot, records);
    for (const b of added) this.#listeners.add(b).serve();
    declareKnownSeries(this.metrics, {
      listeners: added.map((b) => ({
        label: b.source.label,
        kind: b.kind,
        format: b.source.protocol === "gelf" ? "gelf" : "syslog",
        relp: b.source.protocol === "relp",
      })),
      streams: (opened?.destinations ?? []).flat().map((d) => d.name),
      tls: false,
      sinks: changing.filter((s) => s.change === "added").map((s) => s.spec.name),
    });
    for (const source of plan.removed) void this.#listeners.remove(source);
    const { routes, defaultSink } = next.pipeline;
    running.pipeline.sources = next.pipeline.sources;
    running.pipeline.sinks = next.pipeline.sinks;
    running.pipeline.routes = routes;
    running.pipeline.defaultSink = defaultSink;
    // The ingest's sinks first: the router's bits are their slots.
    this.#ingest.sinks = ingestSinksOf(this.#sinks, defaultSink);
    this.#router = routerOf({ routes, defaultSink }, this.#sinks.map((s) => s.spec.name));
    this.#ingest.router = this.#router;
    const to = (s: SinkSpec) =>
      s.outputDir === undefined ? `${s.service}:${s.streams.join(",")}` : `dir:${s.outputDir}`;
    log.info(
      "SIGHUP: configuration reloaded; messages arriving from now on follow its routes, records go to its sinks",
      {
        added: plan.added.map((s) => s.label).join(",") || undefined,
        removed: plan.removed.map((s) => s.label).join(",") || undefined,
        routes: routes.map((r) => r.name).join(",") || undefined,
        defaultSink,
        sinksAdded: changing.filter((s) => s.change === "added").map((s) => `${s.spec.name}=${to(s.spec)}`)
          .join(" ") || undefined,
        sinksChanged: changing.filter((s) => s.change !== "added").map((s) => `${s.spec.name}=${to(s.spec)}`)
          .join(" ") || undefined,
        sinksRetired: plan.retired.map((i) => this.#sinks[i]!.spec.name).join(",") || undefined,
      },
    );
    return "ok";
  }

  /** Counts the records an earlier run left in sink `slot`'s spool and queues them for delivery (checked first). */
  #queueLeftovers(slot: number, records: readonly SpoolEntry[]): void {
    this.#usage.found(records);
    this.#uploader.add(slot, records, { verify: true });
    this.#updateGauges();
  }

  /**
   * Reads `--cert`, `--key` and `--client-ca` again (SIGHUP) and uses them for new TLS
   * connections; open connections keep theirs. A file that cannot be read or used leaves
   * the old certificates in place, logged and counted (`invalid`); `unchanged` without TLS.
   */
  async reloadCertificates(): Promise<"ok" | "unchanged" | "invalid"> {
    if (this.#tls === undefined) {
      this.#log.info("SIGHUP: no TLS listener, nothing to reload");
      return "unchanged";
    }
    try {
      this.#tls.reload(await readTlsMaterial(this.#config));
    } catch (error) {
      this.metrics.tlsReloads.inc({ result: "error" });
      this.#log.error("Cannot reload the TLS certificates; the old ones stay in use", {
        error: (error as Error).message,
      });
      return "invalid";
    }
    this.metrics.tlsReloads.inc({ result: "ok" });
    this.#log.info("TLS certificates reloaded; new connections use them", {
      cert: this.#config.cert,
      ...(this.#config.clientCa !== undefined && { clientCa: this.#config.clientCa }),
      ...(this.#config.clientCrl !== undefined && { clientCrl: this.#config.clientCrl }),
    });
    reportRevocation(this.#tls, this.#log);
    return "ok";
  }

  /**
   * For `/ready`: listeners serving, the spool writable (probed now, at most once a second)
   * and within its bound, and deliveries not failing for longer than `--ready-delivery-timeout`.
   */
  async readiness(): Promise<Readiness> {
    const probeError = await this.#spoolProbe.result();
    const failingSince = this.#uploader.failingSince;
    const refusing = this.#uploader.refusing;
    return judgeReadiness({
      started: this.#started,
      stopping: this.#shutdown !== undefined,
      spoolError: probeError ?? this.#usage.writeError,
      pressure: this.#pressure.reason(),
      failingForMs: failingSince === undefined ? undefined : Date.now() - failingSince,
      failingLimitMs: this.#config.readyDeliveryTimeout * 1000,
      refusing: refusing === undefined ? undefined : { forMs: Date.now() - refusing.since, reason: refusing.reason },
      refusingLimitMs: this.#config.flushInterval * 1000,
      credentialsError: this.#credentials?.problem,
    });
  }

  /**
   * Stops intake, lets connections finish for the grace period, spools everything buffered,
   * tries a last upload, and releases everything. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    this.#stopped.resolve();
    return this.#shutdown;
  }

  readonly #stopped = Promise.withResolvers<void>();

  /** Resolves once a shutdown has begun, by a signal or by a worker failure. */
  get stopping(): Promise<void> {
    return this.#stopped.promise;
  }

  async #stop(): Promise<void> {
    const log = this.#log;
    log.info("Shutting down: no new connections; draining open ones", {
      graceSeconds: this.#config.shutdownGrace,
    });
    // Readers blocked on a full spool must still take in what they have.
    this.#pressure.release();
    await this.#listeners.close(this.#config.shutdownGrace * 1000);
    this.#ledger?.close();
    this.#ticking = false;
    clearTimeout(this.#tickTimer);
    this.#credentials?.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_SPOOL_TIMEOUT_MS)));
    // A batch in flight may hand events back: they are flushed again, with no hand-back.
    let rounds = 0;
    do {
      this.#batcher.flushAll();
      if (await Promise.race([this.#worker.drain().then(() => false), timeout.then(() => true)])) break;
    } while (this.#batcher.bufferedBytes > 0 && ++rounds < 3);
    clearTimeout(timer);
    const unspooled = this.#worker.backlogBytes + this.#batcher.bufferedBytes;
    if (unspooled > 0) {
      // The worker is stuck on a failing disk, or died: what it holds is not in the spool.
      if (this.#journal === undefined) {
        log.error("Buffered messages could not be spooled; they are lost", { bytes: unspooled });
      } else {
        log.error("Buffered messages could not be spooled; the journal keeps them for the next start", {
          bytes: unspooled,
        });
      }
    }
    await this.#journal?.close();
    await this.#instance.close();
    await this.#uploader.stop(Date.now() + SHUTDOWN_UPLOAD_TIMEOUT_MS);
    this.#worker.terminate();
    this.#sink.close();
    for (const close of this.#closers) close();
    for (const s of this.#servers) await s.close();
    log.info("kinesyslog stopped", { undeliveredRecords: this.#uploader.pendingRecords });
  }

  /** Counts and logs entries of the spool or journal that were not the relay's and were moved aside. */
  #reportSetAside(setAside: readonly SetAside[]): void {
    for (const { path, movedTo, reason } of setAside) {
      this.metrics.foreignFiles.inc({ reason });
      this.#log.error("Found a file in the spool that the relay did not write; moved aside, not used", {
        path,
        movedTo,
        reason,
      });
    }
  }

  /** Counts and logs (rate-limited) a refused or failed connection to a metrics port. */
  #metricsProblem(listener: string, reason: string, error: string | undefined): void {
    const refused = reason === "connection_limit";
    (refused ? this.metrics.connectionsRefused : this.metrics.connectionErrors).inc({ listener, reason });
    this.#log.limited(
      "warn",
      `${listener}-${reason}`,
      refused ? "Connection refused: too many open connections" : "Metrics connection failed",
      {
        listener,
        reason,
        ...(error !== undefined && { error }),
      },
    );
  }

  /** How often buffers are looked at while there are any, in ms. */
  get #checkMs(): number {
    return Math.min(FLUSH_CHECK_MS, this.#config.flushInterval * 1000);
  }

  /** Sets the next tick `ms` from now, unless one comes sooner. */
  #schedule(ms: number): void {
    const at = Date.now() + ms;
    if (!this.#ticking || this.#tickAt <= at) return;
    clearTimeout(this.#tickTimer);
    this.#tickAt = at;
    this.#tickTimer = setTimeout(() => this.#tick(), timerDelay(ms));
  }

  /**
   * Flushes buffers that are due, lets the journal's bytes go when the spool's bound is
   * reached, stops idle spool workers, reads the UDP sockets' drops, updates the gauges and
   * hands free memory back (`allocator.ts`). While anything is buffered, in the workers or
   * held back, it comes again within the flush check; otherwise after
   * {@linkcode IDLE_CHECK_MS} or when a buffer opens.
   */
  #tick(): void {
    this.#tickAt = Infinity;
    this.#tickTimer = undefined;
    this.#batcher.flushDue();
    const before = this.#journal?.flushBefore();
    if (before !== undefined) this.#batcher.flushBefore(before);
    else if (this.#journal !== undefined && this.#journal.diskBytes > 0 && this.#pressure.reason() === "spool_full") {
      // The bound is reached and the journal holds part of it: spooling the buffers and
      // closing the segment lets the journal's bytes go (records are a fifth of them), not
      // after --flush-interval and the segment's age.
      this.#batcher.flushBefore(Date.now());
      void this.#journal.closeSegment().catch(() => {});
    }
    this.#listeners.tick();
    this.#worker.tick();
    this.#updateGauges();
    const busy = this.#batcher.openBuffers > 0 || this.#worker.backlogBytes > 0 || this.#worker.running > 1 ||
      this.#pressure.reason() !== undefined;
    const now = Date.now();
    if (this.#trim !== undefined && (busy ? now - this.#trimmedAt >= TRIM_INTERVAL_MS : this.#wasBusy)) {
      this.#trim();
      this.#trimmedAt = now;
    }
    this.#wasBusy = busy;
    this.#schedule(busy ? this.#checkMs : IDLE_CHECK_MS);
  }

  #updateGauges(): void {
    const metrics = this.metrics;
    metrics.spoolBytes.set(this.#usage.bytes);
    metrics.spoolFiles.set(this.#usage.records);
    metrics.bufferedBytes.set(this.#batcher.bufferedBytes + this.#worker.backlogBytes);
    metrics.openBuffers.set(this.#batcher.openBuffers);
    metrics.bufferMemory.set(this.#batcher.allocatedBytes);
    if (this.#journal !== undefined) {
      metrics.journalBytes.set(this.#journal.diskBytes);
      metrics.journalBacklogBytes.set(this.#journal.backlogBytes);
    }
  }
}

/**
 * The sinks for the startup line: one as `sink=firehose:a,b` (`kinesis:a`, `dir:/path`); several as
 * `sinks=name=firehose:a/cwl/gzip-6 name=dir:/path/ndjson/none`.
 */
function sinkFields(sinks: readonly SinkSpec[]): Record<string, string> {
  const to = (s: SinkSpec) => s.outputDir === undefined ? `${s.service}:${s.streams.join(",")}` : `dir:${s.outputDir}`;
  if (sinks.length === 1) return { sink: to(sinks[0]!) };
  return {
    sinks: sinks.map((s) => `${s.name}=${to(s)}/${s.recordFormat}/${s.recordCompression}-${s.compressionLevel}`)
      .join(" "),
  };
}

/** What each route did, for `kinesyslog_route_messages_total`. */
function routeCounts(router: Router | undefined): { route: string; outcome: string; count: number }[] {
  if (router === undefined) return [];
  return router.names.flatMap((route, i) => [
    { route, outcome: "taken", count: router.taken[i]! },
    { route, outcome: "sampled_out", count: router.sampledOut[i]! },
    { route, outcome: "rate_limited", count: router.limited[i]! },
  ]);
}

/** The limits of a stream listener's connections, from the configuration. */
function connectionLimits(config: Config): ConnectionLimits {
  return {
    maxConnectionsPerSource: config.maxConnectionsPerSource,
    maxConnections: config.maxConnections,
    idleTimeoutMs: config.idleTimeout * 1000,
    handshakeTimeoutMs: config.handshakeTimeout * 1000,
  };
}

/** What binding the sources needs of the configuration. */
function bindOptions(config: Config): BindOptions {
  return {
    address: config.address,
    udpRecvBuffer: config.udpRecvBuffer,
    maxMessageSize: config.maxMessageSize,
    allowFrom: config.allowFrom,
    tcpWorkers: config.tcpWorkers,
    limits: connectionLimits(config),
    log: { level: config.logLevel, format: config.logFormat },
  };
}

/** `host:port`, with an IPv6 host in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
