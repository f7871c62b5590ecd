package dev.thinkproxy.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Holds N slow streams open through the proxy at once and measures what each costs it. Starts the mock
 * upstream and the proxy as child processes, runs the same N streams straight to the mock as a latency
 * baseline, then through the proxy: the streams open over the ramp, the proxy is sampled when all are open
 * (the plateau), latency is taken over a window at the plateau, and the proxy is sampled again when all have
 * ended. Prints Markdown.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.ScaleRun --streams 10000</pre>
 */
public final class ScaleRun {
  private static final String USAGE = """
      usage: ScaleRun [options]
        --streams N            concurrent streams (default 10000)
        --chunks N             content chunks per stream (default 60)
        --delay-ms N           between chunks (default 500: 60 chunks last 30 s)
        --size N               bytes of text per chunk (default 16)
        --reasoning SHARE      share of chunks inside <think> (default 0.5)
        --ramp DURATION        time over which the streams open (default 10s)
        --settle DURATION      longest wait after the ramp for every stream to answer (default 5s)
        --window DURATION      latency window at the plateau, from 2 s after it is reached until this long
                               or the first stream ends (default 10s)
        --connect-timeout D    client connect timeout (default 60s)
        --keep-alive           reuse client connections (default: a new connection per stream)
        --no-direct            skip the baseline run straight to the mock
        --final-settle D       wait after the last stream for a last sample, so idle threads can expire
                               (default 65s; 0 = no such sample)
      """ + Harness.OPTIONS_HELP;

  /** A small delay so the timer path is compiled too, not only the write-as-fast-as-possible one. */
  private static final Duration WINDOW_DELAY = Duration.ofSeconds(2);
  private static final String WARM_UP_QUERY = "chunks=50&size=16&delay_ms=2";

  private final Args args;
  private final int streams;
  private final Duration ramp;
  private final Duration settle;
  private final Duration window;
  private final Duration streamLength;
  private final String query;

  private ScaleRun(Args a) {
    args = a;
    streams = a.intValue("--streams", 10_000);
    int chunks = a.intValue("--chunks", 60);
    int delayMs = a.intValue("--delay-ms", 500);
    ramp = a.duration("--ramp", Duration.ofSeconds(10));
    settle = a.duration("--settle", Duration.ofSeconds(5));
    window = a.duration("--window", Duration.ofSeconds(10));
    streamLength = Duration.ofMillis((long) chunks * delayMs);
    query = String.format(Locale.ROOT, "chunks=%d&delay_ms=%d&size=%d&reasoning=%s", chunks, delayMs,
        a.intValue("--size", 16), a.string("--reasoning", "0.5"));
  }

  /** What one phase measured. */
  private record Phase(LoadStats total, LoadStats plateau, Duration window, LoadClient.Progress atPlateau,
      Duration plateauAfter,
      int peakOpen, int peakResponding, ProcessStats.Sample plateauSample, double plateauCpuShare,
      ProcessStats.Sample afterSample, MockStats mockAtPlateau, MockStats mockAfter) {}

  public static void main(String[] argv) throws Exception {
    Set<String> options = new HashSet<>(Harness.OPTIONS);
    options.addAll(Set.of("--streams", "--chunks", "--delay-ms", "--size", "--reasoning", "--ramp", "--settle",
        "--window", "--connect-timeout", "--final-settle"));
    ScaleRun run = Args.parseOrExit(argv, Set.of("--keep-alive", "--no-direct"), options, USAGE, ScaleRun::new);
    if (run == null) {
      return;
    }
    FileLimits.raiseOwn();
    run.run();
    // The children are stopped by the harness; daemon loops and shutdown hooks need no more.
    System.exit(0);
  }

  private void run() throws Exception {
    Duration needed = ramp.plus(settle).plus(WINDOW_DELAY).plusSeconds(1);
    if (streamLength.compareTo(needed) < 0) {
      System.err.printf(Locale.ROOT, "warning: streams last %d s, less than ramp + settle + 3 s = %d s: "
          + "the first may end before the plateau is measured%n", streamLength.toSeconds(), needed.toSeconds());
    }
    try (Harness h = new Harness(args, "scale")) {
      System.err.println("logs in " + h.logDir());
      h.startMock();
      Phase direct = null;
      if (!args.flag("--no-direct")) {
        warmUp(h.mockAddress(), h.directPath(WARM_UP_QUERY));
        System.err.println("direct run: " + streams + " streams to the mock");
        direct = phase(h.mockAddress(), h.directPath(query), null, h);
      }
      h.startProxy(List.of());
      warmUp(h.proxyAddress(), h.proxiedPath(WARM_UP_QUERY));
      ProcessStats stats = h.proxyStats();
      ProcessStats.Sample idle = stats.sample("idle", true);
      System.err.println("through the proxy: " + streams + " streams");
      Phase proxied = phase(h.proxyAddress(), h.proxiedPath(query), stats, h);
      Duration finalSettle = args.duration("--final-settle", Duration.ofSeconds(65));
      ProcessStats.Sample settled = null;
      if (!finalSettle.isZero()) {
        Thread.sleep(finalSettle.toMillis());
        settled = stats.sample("after + " + finalSettle.toSeconds() + " s idle", true);
      }
      print(h, direct, idle, proxied, settled);
    }
  }

  /**
   * Short streams so the code on the path is compiled before anything is measured; few at a time, so the proxy's
   * idle sample is not full of the warm-up's pooled threads.
   */
  private static void warmUp(InetSocketAddress address, String path) throws InterruptedException {
    LoadClient.Options o = new LoadClient.Options(address).concurrency(8).streams(1000);
    try (LoadClient c = LoadClient.start(o, StreamPlan.fixed(path, 0, 0))) {
      if (!c.awaitFinished(Duration.ofMinutes(2))) {
        throw new IllegalStateException("warm-up did not finish: " + c.progress());
      }
      LoadStats s = c.total();
      if (s.count(StreamOutcome.DONE) != s.streams()) {
        System.err.println("warning: warm-up streams failed:\n" + Report.outcomes(s) + Report.reasons(s));
      }
    }
  }

  private Phase phase(InetSocketAddress address, String path, ProcessStats stats, Harness h) throws Exception {
    Duration connectTimeout = args.duration("--connect-timeout", Duration.ofSeconds(60));
    LoadClient.Options o = new LoadClient.Options(address)
        .concurrency(streams)
        .streams(streams)
        .rate(streams / Math.max(0.001, ramp.toMillis() / 1000.0))
        .keepAlive(args.flag("--keep-alive"))
        .connectTimeout(connectTimeout)
        .idleTimeout(Duration.ofSeconds(60));
    long t0 = System.nanoTime();
    try (LoadClient client = LoadClient.start(o, StreamPlan.fixed(path, 0, 0))) {
      Peaks peaks = new Peaks();
      LoadClient.Progress p;
      long plateauDeadline = t0 + ramp.plus(settle).toNanos();
      do {
        Thread.sleep(100);
        p = peaks.track(client);
      } while (p.responding() < streams && !p.finished() && System.nanoTime() < plateauDeadline);
      Duration plateauAfter = Duration.ofNanos(System.nanoTime() - t0);
      System.err.println("plateau after " + plateauAfter.toMillis() + " ms: " + p);

      // Steady state: past the ramp's connects and thread starts, and before the first stream ends.
      sleepTracking(client, peaks, WINDOW_DELAY);
      client.takeWindow();
      double cpuBefore = stats == null ? 0 : stats.cpuSeconds();
      long windowStart = System.nanoTime();
      long windowEnd = windowStart + window.toNanos();
      while (System.nanoTime() < windowEnd && peaks.track(client).ended() == 0) {
        Thread.sleep(100);
      }
      LoadStats plateau = client.takeWindow();
      Duration windowTaken = Duration.ofNanos(System.nanoTime() - windowStart);
      double cpuShare = stats == null ? 0 : (stats.cpuSeconds() - cpuBefore) / (windowTaken.toMillis() / 1000.0);
      MockStats mockAtPlateau = h.mockStats();
      // Sampled after the window: the forced GC of the sample would otherwise show in the gaps.
      ProcessStats.Sample plateauSample = stats == null ? null : stats.sample("plateau", true);

      Duration limit = ramp.plus(streamLength).plus(connectTimeout).plusSeconds(90);
      long deadline = t0 + limit.toNanos();
      while (!client.awaitFinished(Duration.ofMillis(500))) {
        peaks.track(client);
        if (System.nanoTime() > deadline) {
          System.err.println("warning: streams still open after " + limit.toSeconds() + " s: " + client.progress());
          break;
        }
      }
      ProcessStats.Sample after = stats == null ? null : stats.sample("after", true);
      return new Phase(client.total(), plateau, windowTaken, p, plateauAfter, peaks.open, peaks.responding,
          plateauSample, cpuShare, after, mockAtPlateau, h.mockStats());
    }
  }

  private static void sleepTracking(LoadClient client, Peaks peaks, Duration d) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < end) {
      Thread.sleep(100);
      peaks.track(client);
    }
  }

  /** The most streams seen open and answering at once. */
  private static final class Peaks {
    int open;
    int responding;

    LoadClient.Progress track(LoadClient client) {
      LoadClient.Progress p = client.progress();
      open = Math.max(open, p.open());
      responding = Math.max(responding, p.responding());
      return p;
    }
  }

  private void print(Harness h, Phase direct, ProcessStats.Sample idle, Phase proxied, ProcessStats.Sample settled)
      throws Exception {
    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "## Scale run: %d streams, %s%n%n", streams, query));
    out.append(h.describeRun()).append("ramp ").append(ramp.toSeconds()).append(" s\n\n");

    out.append("### Streams\n\n").append(streamsTable(direct, proxied)).append('\n');
    out.append("### Proxy process\n\n").append(processTables(h, idle, proxied, settled));
    out.append("### Latency\n\nTime to first byte and to the first answer text (after the reasoning) over all "
        + "streams, from the connect (so during the ramp); gaps between chunks over the plateau window and over the "
        + "whole run.\n\n");
    Map<String, Phase> phases = new LinkedHashMap<>();
    if (direct != null) {
      phases.put("direct", direct);
    }
    phases.put("proxy", proxied);
    out.append(latencyTable(phases)).append('\n');
    out.append("### Failure reasons\n\n");
    phases.forEach((name, x) -> out.append(name).append(":\n\n").append(Report.reasons(x.total)).append('\n'));
    System.out.print(out);
  }

  private static MarkdownTable streamsTable(Phase direct, Phase proxied) {
    MarkdownTable t = new MarkdownTable("", "direct to the mock", "through the proxy");
    t.row("streams started", cell(direct, x -> x.total.streams()), proxied.total.streams());
    t.row("peak open connections (client side)", cell(direct, x -> x.peakOpen), proxied.peakOpen);
    t.row("peak streams answering at once", cell(direct, x -> x.peakResponding), proxied.peakResponding);
    t.row("at the plateau sample: answering / connected / connecting",
        cell(direct, x -> plateauLine(x)), plateauLine(proxied));
    t.row("plateau reached after", cell(direct, x -> x.plateauAfter.toMillis() + " ms"),
        proxied.plateauAfter.toMillis() + " ms");
    for (StreamOutcome o : StreamOutcome.values()) {
      if ((direct != null && direct.total.count(o) > 0) || proxied.total.count(o) > 0) {
        t.row(o.label(), cell(direct, x -> x.total.count(o)), proxied.total.count(o));
      }
    }
    t.row("events with reasoning_content", cell(direct, x -> x.total.reasoningEvents()),
        proxied.total.reasoningEvents());
    t.row("mock: upstream streams open at the plateau", cell(direct, x -> x.mockAtPlateau.streaming()),
        proxied.mockAtPlateau.streaming());
    return t;
  }

  private static String processTables(Harness h, ProcessStats.Sample idle, Phase proxied, ProcessStats.Sample settled) {
    StringBuilder out = new StringBuilder();
    MarkdownTable pt = new MarkdownTable("sample", "RSS MiB", "RSS after GC MiB", "heap after GC MiB", "threads",
        "fds", "CPU s");
    List<ProcessStats.Sample> samples = new ArrayList<>(List.of(idle, proxied.plateauSample, proxied.afterSample));
    if (settled != null) {
      samples.add(settled);
    }
    for (ProcessStats.Sample s : samples) {
      pt.row(s.label(), Report.mib(s.rssBytes()), Report.mib(s.rssAfterGcBytes()), Report.mib(s.heapAfterGcBytes()),
          s.threads(), s.fds(), String.format(Locale.ROOT, "%.1f", s.cpuSeconds()));
    }
    out.append(pt).append('\n');
    // Every stream open is the usual case; when the proxy falls behind, what it holds are the client connections it
    // accepted and the upstream streams it started, and both divisors are shown.
    ProcessStats.Sample pl = proxied.plateauSample;
    int upstream = proxied.mockAtPlateau.streaming();
    int clients = proxied.atPlateau.open();
    MarkdownTable per = new MarkdownTable("plateau − idle", "per upstream stream open (" + upstream + ")",
        "per client connection open (" + clients + ")");
    perRow(per, "RSS KiB", pl.rssBytes() - idle.rssBytes(), upstream, clients);
    perRow(per, "RSS after GC KiB", pl.rssAfterGcBytes() - idle.rssAfterGcBytes(), upstream, clients);
    perRow(per, "heap after GC KiB", pl.heapAfterGcBytes() - idle.heapAfterGcBytes(), upstream, clients);
    per.row("threads", ratio(pl.threads() - idle.threads(), upstream), ratio(pl.threads() - idle.threads(), clients));
    per.row("fds", ratio(pl.fds() - idle.fds(), upstream), ratio(pl.fds() - idle.fds(), clients));
    out.append(per).append('\n');
    out.append(String.format(Locale.ROOT, "proxy CPU during the plateau window (%.1f s): %.0f %% of one core%n%n",
        proxied.window.toMillis() / 1000.0, proxied.plateauCpuShare * 100));
    out.append("longest safepoint pause of the proxy over the whole run: ").append(h.longestProxySafepoint())
        .append(" (from `proxy-gc.log`)\n\n");
    return out.toString();
  }

  private static MarkdownTable latencyTable(Map<String, Phase> phases) {
    MarkdownTable lt = new MarkdownTable("run", "metric", "n", "p50 ms", "p90 ms", "p99 ms", "max ms");
    phases.forEach((name, x) -> {
      Report.latencyRow(lt, name, "time to first byte", x.total.ttfb());
      Report.latencyRow(lt, name, "time to first answer", x.total.ttfc());
      Report.latencyRow(lt, name, "gap between chunks, plateau window (" + x.window.toMillis() / 1000.0 + " s)",
          x.plateau.gap());
      Report.latencyRow(lt, name, "gap between chunks, whole run", x.total.gap());
    });
    return lt;
  }

  private static void perRow(MarkdownTable t, String what, long bytes, int upstream, int clients) {
    t.row(what, Report.kibPer(bytes, upstream), Report.kibPer(bytes, clients));
  }

  private static String ratio(long n, int d) {
    return d <= 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", n / (double) d);
  }

  private static String plateauLine(Phase x) {
    return x.atPlateau.responding() + " / " + x.atPlateau.open() + " / " + x.atPlateau.connecting();
  }

  private static Object cell(Phase direct, Function<Phase, Object> f) {
    return direct == null ? "–" : f.apply(direct);
  }
}
