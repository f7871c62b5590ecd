package dev.thinkproxy.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * Measures four ways to the same mock upstream in one run, interleaved: straight to the mock ({@code direct}),
 * through Jetty's {@code ProxyServlet} as the plain pass-through baseline ({@link JettyPassThroughServer}),
 * through the standalone thinkproxy server, and through thinkproxy's servlet in a plain Tomcat
 * ({@link TomcatServletServer}). Each server is a child process of its own, on the same java and JVM flags, so
 * its CPU time, memory and threads are its own. For every scenario and repetition the four run one after the
 * other in an order that rotates from one repetition to the next ({@link PerfMath#order}); the report gives the
 * median over the repetitions. Prints Markdown.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.PerfRun [--scenarios S1,S2,S3] [--quick]</pre>
 */
public final class PerfRun {
  private static final String USAGE = """
      usage: PerfRun [options]
        --scenarios LIST       which of S1,S2,S3 to run, in that order (default S1,S2,S3)
        --reps N               repetitions of every cell, interleaved (default 3)
        --cell DURATION        closed-loop time of an S1 or S2 cell (default 10s; --quick 3s)
        --warmup DURATION      warm-up of each target before the first cell (default 30s; --quick 3s)
        --s1-concurrency LIST  the S1 cells' concurrencies (default 1,50)
        --s2-concurrency N     S2 concurrency (default 64)
        --s2-chunks N          content chunks per S2 stream (default 2000)
        --s3-streams N         S3 streams open at once (default 1000; 10000 needs ~20,000 fds in a proxy)
        --s3-chunks N          content chunks per S3 stream, 500 ms apart (default 60; --quick 6)
        --s3-ramp DURATION     time over which the S3 streams open (default 5s; --quick 1s)
        --quick                a smoke run: every cell a few seconds
      """ + Harness.OPTIONS_HELP;

  private static final String TEXT = "size=16&reasoning=0.5";
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration QUIET_WAIT = Duration.ofSeconds(15);
  private static final long SAMPLE_MILLIS = 250;
  private static final int WARM_UP_CONCURRENCY = 8;

  /**
   * One of the four ways to the mock; {@code stats} is the process measured (the mock's own for direct);
   * {@code rewrites}: whether the answers should carry {@code reasoning_content} (checked on every cell).
   */
  private record Target(String name, String label, InetSocketAddress address, boolean proxied, boolean rewrites,
      ProcessStats stats, ChildProcess process) {}

  /**
   * A scenario: closed loop at {@code concurrency} for {@code duration} ({@code streams} 0), or {@code streams}
   * streams opened over {@code ramp}; {@code streamLength} is how long one stream takes at the mock's pace.
   */
  record Scenario(String id, String title, String query, int concurrency, Duration duration, int streams,
      Duration ramp, Duration streamLength) {
    boolean closedLoop() {
      return streams == 0;
    }

    /** How long a cell may take before the streams still open are cut off and counted as failed. */
    Duration limit() {
      Duration launching = closedLoop() ? duration : ramp;
      return launching.plus(streamLength.multipliedBy(2)).plus(IDLE_TIMEOUT).plusSeconds(60);
    }
  }

  /**
   * What one cell measured: the streams, the chunk events and the target's CPU seconds over the measuring window
   * (closed loop: its duration; otherwise the whole cell), and the peaks of the target's RSS and threads.
   */
  record Cell(String target, int rep, int position, LoadStats total, long windowEvents, double windowSeconds,
      double cpuSeconds, long peakRssBytes, int peakThreads, long unfinished, List<String> notes) {
    long done() {
      return total == null ? 0 : total.count(StreamOutcome.DONE);
    }

    long failed() {
      return (total == null ? 0 : total.streams() - done()) + unfinished;
    }

    double chunksPerSecond() {
      return PerfMath.perSecond(windowEvents, windowSeconds);
    }

    double cpuPer100k() {
      return PerfMath.cpuPer100k(cpuSeconds, windowEvents);
    }
  }

  private final Args args;
  private final int reps;
  private final Duration warmup;
  private final List<Scenario> scenarios;
  private ProcessStats mockProcess;

  private PerfRun(Args a) {
    args = a;
    boolean quick = a.flag("--quick");
    reps = a.intValue("--reps", 3);
    if (reps < 1) {
      throw new IllegalArgumentException("--reps must be at least 1");
    }
    warmup = a.duration("--warmup", Duration.ofSeconds(quick ? 3 : 30));
    scenarios = scenarios(a, quick);
  }

  static List<Scenario> scenarios(Args a, boolean quick) {
    Duration cell = a.duration("--cell", Duration.ofSeconds(quick ? 3 : 10));
    Set<String> wanted = new HashSet<>();
    for (String s : a.string("--scenarios", "S1,S2,S3").split(",")) {
      String id = s.strip().toUpperCase(Locale.ROOT);
      if (!Set.of("S1", "S2", "S3").contains(id)) {
        throw new IllegalArgumentException("unknown scenario: " + s + " (S1, S2 or S3)");
      }
      wanted.add(id);
    }
    List<Scenario> out = new ArrayList<>();
    if (wanted.contains("S1")) {
      for (String c : a.string("--s1-concurrency", "1,50").split(",")) {
        int n = Integer.parseInt(c.strip());
        out.add(new Scenario("S1 c=" + n, "latency, " + n + (n == 1 ? " stream" : " streams") + " at a time",
            "chunks=200&delay_ms=5&" + TEXT, n, cell, 0, Duration.ZERO, Duration.ofSeconds(1)));
      }
    }
    if (wanted.contains("S2")) {
      int n = a.intValue("--s2-concurrency", 64);
      int chunks = a.intValue("--s2-chunks", 2000);
      out.add(new Scenario("S2", "throughput, " + n + " streams at a time, no delay between chunks",
          "chunks=" + chunks + "&delay_ms=0&" + TEXT, n, cell, 0, Duration.ZERO, Duration.ofSeconds(30)));
    }
    if (wanted.contains("S3")) {
      int n = a.intValue("--s3-streams", 1000);
      int chunks = a.intValue("--s3-chunks", quick ? 6 : 60);
      Duration ramp = a.duration("--s3-ramp", Duration.ofSeconds(quick ? 1 : 5));
      out.add(new Scenario("S3", "slow streams, " + n + " open at once, one chunk every 500 ms",
          "chunks=" + chunks + "&delay_ms=500&" + TEXT, n, Duration.ZERO, n, ramp,
          Duration.ofMillis(500L * chunks)));
    }
    return out;
  }

  public static void main(String[] argv) throws Exception {
    Set<String> options = new HashSet<>(Harness.OPTIONS);
    options.addAll(Set.of("--scenarios", "--reps", "--cell", "--warmup", "--s1-concurrency", "--s2-concurrency",
        "--s2-chunks", "--s3-streams", "--s3-chunks", "--s3-ramp"));
    PerfRun run = Args.parseOrExit(argv, Set.of("--quick"), options, USAGE, PerfRun::new);
    if (run == null) {
      return;
    }
    FileLimits.raiseOwn();
    run.run();
    // The children are stopped by the harness; daemon loops and shutdown hooks need no more.
    System.exit(0);
  }

  private void run() throws Exception {
    try (Harness h = new Harness(args, "perf")) {
      System.err.println("logs in " + h.logDir());
      h.startMock();
      mockProcess = h.mockProcessStats();
      h.startProxy(List.of());
      Harness.Server jetty = h.startServer("jetty", JettyPassThroughServer.class);
      Harness.Server tomcat = h.startServer("tomcat-servlet", TomcatServletServer.class);
      List<Target> targets = List.of(
          new Target("direct", "straight to the mock", h.mockAddress(), false, false, mockProcess, null),
          new Target("jetty", "Jetty 12 ProxyServlet, flushing every chunk", jetty.address(), true, false,
              jetty.stats(), jetty.process()),
          new Target("thinkproxy", "thinkproxy standalone server", h.proxyAddress(), true, true, h.proxyStats(),
              h.proxyProcess()),
          new Target("tomcat-servlet", "thinkproxy's servlet in a plain Tomcat 10.1", tomcat.address(), true, true,
              tomcat.stats(), tomcat.process()));

      StringBuilder head = new StringBuilder("## Perf run: direct, Jetty pass-through, thinkproxy standalone, "
          + "thinkproxy servlet in Tomcat\n\n");
      head.append(machine()).append(h.describeRun());
      MarkdownTable tt = new MarkdownTable("target", "what", "process measured");
      for (Target t : targets) {
        tt.row(t.name(), t.label(),
            t.proxied() ? t.name() + " (pid " + t.process().pid() + ")" : "the mock, as context");
      }
      head.append(tt).append('\n');
      head.append(String.format(Locale.ROOT, "%d repetitions per cell, the targets in a rotating order; "
          + "each target warmed up first with %d streams at a time for %d s. Medians over the repetitions.%n%n",
          reps, WARM_UP_CONCURRENCY, warmup.toSeconds()));
      for (Target t : targets) {
        head.append(warmUp(h, t));
      }
      System.out.print(head.append('\n'));
      System.out.flush();

      for (int si = 0; si < scenarios.size(); si++) {
        Scenario s = scenarios.get(si);
        Map<String, Cell[]> cells = new LinkedHashMap<>();
        for (Target t : targets) {
          cells.put(t.name(), new Cell[reps]);
        }
        for (int rep = 0; rep < reps; rep++) {
          List<Target> order = PerfMath.order(targets, si, rep);
          for (int pos = 0; pos < order.size(); pos++) {
            Target t = order.get(pos);
            Cell c = runCell(h, s, t, rep, pos);
            cells.get(t.name())[rep] = c;
            System.err.printf(Locale.ROOT, "%s r%d [%d/%d] %s: %d done, %d failed, %.0f chunks/s, "
                + "CPU %.3f s/100k%s%n", s.id(), rep + 1, pos + 1, order.size(), t.name(), c.done(), c.failed(),
                c.chunksPerSecond(), c.cpuPer100k(), c.notes().isEmpty() ? "" : "; " + String.join("; ", c.notes()));
          }
        }
        System.out.print(scenarioReport(s, cells));
        System.out.flush();
      }
      System.out.print("load average at the end: " + loadAverage() + "\n\n");
      MarkdownTable gc = new MarkdownTable("process", "longest safepoint (GC pauses included) over the run");
      gc.row("thinkproxy", h.longestProxySafepoint());
      gc.row("jetty", h.longestSafepoint("jetty"));
      gc.row("tomcat-servlet", h.longestSafepoint("tomcat-servlet"));
      System.out.print(gc + "\n");
    }
  }

  /** Short streams of both kinds, so the code on each path is compiled before anything is measured. */
  private String warmUp(Harness h, Target t) throws InterruptedException {
    String[] queries = {"chunks=200&delay_ms=0&" + TEXT, "chunks=50&delay_ms=2&" + TEXT};
    StreamPlan.Planner planner = random -> StreamPlan.of("warm-up", path(h, t, queries[random.nextInt(2)]));
    LoadClient.Options o = new LoadClient.Options(t.address()).concurrency(WARM_UP_CONCURRENCY).duration(warmup)
        .connectTimeout(CONNECT_TIMEOUT).idleTimeout(IDLE_TIMEOUT);
    System.err.println("warm-up of " + t.name());
    try (LoadClient c = LoadClient.start(o, planner)) {
      if (!c.awaitFinished(warmup.plusMinutes(2))) {
        return "warning: the warm-up of " + t.name() + " did not finish: " + c.progress() + "\n\n";
      }
      LoadStats s = c.total();
      long failed = s.streams() - s.count(StreamOutcome.DONE);
      return failed == 0 ? ""
          : "warning: " + failed + " of " + s.streams() + " warm-up streams of " + t.name() + " failed:\n\n"
              + Report.reasons(s) + "\n";
    }
  }

  private Cell runCell(Harness h, Scenario s, Target t, int rep, int pos) throws Exception {
    List<String> notes = new ArrayList<>();
    if (t.process() != null && !t.process().isAlive()) {
      notes.add("not run: the process had exited (see " + t.process().log() + ")");
      return new Cell(t.name(), rep, pos, null, 0, 0, Double.NaN, -1, -1, 0, notes);
    }
    awaitMockQuiet(h, notes);
    LoadClient.Options o = new LoadClient.Options(t.address()).concurrency(s.concurrency())
        .connectTimeout(CONNECT_TIMEOUT).idleTimeout(IDLE_TIMEOUT);
    if (s.closedLoop()) {
      o.duration(s.duration());
    } else {
      o.streams(s.streams()).rate(s.streams() / Math.max(0.001, s.ramp().toMillis() / 1000.0));
    }
    LoadStats window = null;
    LoadStats total;
    long windowNanos = 0;
    double cpu = Double.NaN;
    long unfinished = 0;
    PeakSampler peaks = new PeakSampler(t.stats());
    try {
      double cpu0 = cpuSeconds(t.stats());
      long t0 = System.nanoTime();
      try (LoadClient client = LoadClient.start(o, StreamPlan.fixed(path(h, t, s.query()), 0, 0))) {
        client.takeWindow();
        if (s.closedLoop()) {
          long end = t0 + s.duration().toNanos();
          for (long now = System.nanoTime(); now < end; now = System.nanoTime()) {
            Thread.sleep(Math.max(1, Math.min(100, (end - now) / 1_000_000)));
          }
          window = client.takeWindow();
          windowNanos = System.nanoTime() - t0;
          cpu = cpuSeconds(t.stats()) - cpu0;
        }
        long deadline = t0 + s.limit().toNanos();
        boolean finished = false;
        while (!finished && System.nanoTime() < deadline) {
          finished = client.awaitFinished(Duration.ofMillis(500));
        }
        if (!s.closedLoop()) {
          windowNanos = System.nanoTime() - t0;
          cpu = cpuSeconds(t.stats()) - cpu0;
        }
        total = client.total();
        if (!finished) {
          LoadClient.Progress p = client.progress();
          unfinished = p.launched() - p.ended();
          notes.add("cut off after " + s.limit().toSeconds() + " s with " + unfinished + " streams still open");
        }
      }
    } finally {
      peaks.close();
    }
    if (window == null) {
      window = total;
    }
    if (total.count(StreamOutcome.DONE) > 0 && (total.reasoningEvents() > 0) != t.rewrites()) {
      notes.add(total.reasoningEvents() + " events carried reasoning_content, where "
          + (t.rewrites() ? "the think rewrite should have produced some" : "none should have"));
    }
    if (t.process() != null && !t.process().isAlive()) {
      notes.add("the process exited during the cell (see " + t.process().log() + ")");
    }
    return new Cell(t.name(), rep, pos, total, window.events(), windowNanos / 1e9, cpu, peaks.peakRss,
        peaks.peakThreads, unfinished, notes);
  }

  /** Waits until the mock has no stream running, so one cell's leftovers do not load the next. */
  private static void awaitMockQuiet(Harness h, List<String> notes) throws InterruptedException {
    long deadline = System.nanoTime() + QUIET_WAIT.toNanos();
    MockStats m = null;
    while (System.nanoTime() < deadline) {
      try {
        m = h.mockStats();
        if (m.streaming() == 0) {
          return;
        }
      } catch (IOException e) {
        m = null;
      }
      Thread.sleep(100);
    }
    notes.add("the mock still had " + (m == null ? "?" : m.streaming()) + " streams running "
        + QUIET_WAIT.toSeconds() + " s after the previous cell");
  }

  private static String path(Harness h, Target t, String query) {
    return t.proxied() ? h.proxiedPath(query) : h.directPath(query);
  }

  private static double cpuSeconds(ProcessStats stats) {
    try {
      return stats.cpuSeconds();
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** The peaks of a process's RSS and threads, sampled from /proc a few times a second until closed. */
  private static final class PeakSampler implements AutoCloseable {
    private final ProcessStats stats;
    private final Thread thread;
    private volatile boolean running = true;
    // Written by the sampling thread (and before it starts and after it ends), read after close().
    long peakRss = -1;
    int peakThreads = -1;

    PeakSampler(ProcessStats stats) {
      this.stats = stats;
      sample();
      thread = new Thread(this::loop, "perf-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (running) {
        sample();
        try {
          Thread.sleep(SAMPLE_MILLIS);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    private void sample() {
      try {
        peakRss = Math.max(peakRss, stats.statusValue("VmRSS") * 1024);
        peakThreads = Math.max(peakThreads, (int) stats.statusValue("Threads"));
      } catch (IOException | RuntimeException e) {
        // the process has gone; its peaks so far stand
      }
    }

    @Override
    public void close() throws InterruptedException {
      running = false;
      thread.interrupt();
      thread.join();
      sample();
    }
  }

  /** The Markdown of one scenario: the summary table, chunks/s per repetition, and what went wrong. */
  static String scenarioReport(Scenario s, Map<String, Cell[]> cells) {
    StringBuilder out = new StringBuilder();
    out.append("### ").append(s.id()).append(": ").append(s.title()).append("\n\n");
    out.append('`').append(s.query()).append("`, ");
    if (s.closedLoop()) {
      out.append(String.format(Locale.ROOT, "closed loop at concurrency %d for %d s per cell (chunks/s and CPU "
          + "over those %d s; the streams in flight then run to their end and count in the other columns)",
          s.concurrency(), s.duration().toSeconds(), s.duration().toSeconds()));
    } else {
      out.append(String.format(Locale.ROOT, "%d streams per cell opened over %d s, each %d s long (chunks/s "
          + "and CPU over the whole cell, first connect to last stream's end)", s.streams(), s.ramp().toSeconds(),
          s.streamLength().toSeconds()));
    }
    out.append(". Times in ms.\n\n");
    out.append(summaryTable(cells)).append('\n');

    MarkdownTable perRep = new MarkdownTable(header("chunks/s [position in the order]", cells));
    for (Map.Entry<String, Cell[]> e : cells.entrySet()) {
      Object[] row = new Object[e.getValue().length + 1];
      row[0] = e.getKey();
      for (int r = 0; r < e.getValue().length; r++) {
        Cell c = e.getValue()[r];
        row[r + 1] = c == null ? "–" : num(c.chunksPerSecond(), "%.0f") + " [" + (c.position() + 1) + "]";
      }
      perRep.row(row);
    }
    out.append(perRep).append('\n');

    StringBuilder problems = new StringBuilder();
    for (Cell[] byRep : cells.values()) {
      for (Cell c : byRep) {
        if (c == null) {
          continue;
        }
        String where = "- " + c.target() + " r" + (c.rep() + 1) + ": ";
        for (String n : c.notes()) {
          problems.append(where).append(n).append('\n');
        }
        if (c.total() != null && c.total().streams() > c.done()) {
          problems.append(where).append(c.total().streams() - c.done()).append(" streams failed: ")
              .append(c.total().reasons().entrySet().stream()
                  .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(5)
                  .map(r -> "`" + r.getKey() + "` ×" + r.getValue()).collect(Collectors.joining(", ")))
              .append('\n');
        }
      }
    }
    if (problems.length() > 0) {
      out.append("Failures and notes:\n\n").append(problems).append('\n');
    }
    return out.toString();
  }

  private static String[] header(String first, Map<String, Cell[]> cells) {
    int n = cells.values().stream().mapToInt(c -> c.length).max().orElse(0);
    String[] h = new String[n + 1];
    h[0] = "target: " + first;
    for (int r = 0; r < n; r++) {
      h[r + 1] = "r" + (r + 1);
    }
    return h;
  }

  static MarkdownTable summaryTable(Map<String, Cell[]> cells) {
    MarkdownTable t = new MarkdownTable("target", "streams done / failed", "chunks/s", "× direct", "× jetty",
        "first answer p50 / p99, added to direct", "first byte p50 / p99", "gap p99", "CPU s per 100k chunks",
        "peak RSS MiB", "peak threads");
    Cell[] direct = cells.get("direct");
    Cell[] jetty = cells.get("jetty");
    for (Map.Entry<String, Cell[]> e : cells.entrySet()) {
      Cell[] c = e.getValue();
      boolean isDirect = e.getKey().equals("direct");
      long done = 0;
      long failed = 0;
      long rss = -1;
      int threads = -1;
      for (Cell x : c) {
        if (x != null) {
          done += x.done();
          failed += x.failed();
          rss = Math.max(rss, x.peakRssBytes());
          threads = Math.max(threads, x.peakThreads());
        }
      }
      double[] rate = values(c, Cell::chunksPerSecond);
      double[] ttfc50 = values(c, x -> percentileMs(x, LoadStats::ttfc, 50));
      double[] ttfc99 = values(c, x -> percentileMs(x, LoadStats::ttfc, 99));
      double[] ttfcMean = values(c, x -> meanMs(x, LoadStats::ttfc));
      String firstAnswer;
      if (isDirect) {
        firstAnswer = "(" + ms(PerfMath.median(ttfc50)) + " / " + ms(PerfMath.median(ttfc99)) + ", mean "
            + ms(PerfMath.median(ttfcMean)) + ")";
      } else if (direct == null) {
        firstAnswer = "n/a";
      } else {
        firstAnswer = signedMs(PerfMath.medianDifference(ttfc50, values(direct,
            x -> percentileMs(x, LoadStats::ttfc, 50))))
            + " / " + signedMs(PerfMath.medianDifference(ttfc99, values(direct,
                x -> percentileMs(x, LoadStats::ttfc, 99))))
            + ", mean " + signedMs(PerfMath.medianDifference(ttfcMean, values(direct,
                x -> meanMs(x, LoadStats::ttfc))));
      }
      String cpu = num(PerfMath.median(values(c, Cell::cpuPer100k)), "%.3f");
      String rssText = rss < 0 ? "n/a" : Report.mib(rss);
      String threadsText = threads < 0 ? "n/a" : Integer.toString(threads);
      t.row(e.getKey(), done + " / " + failed,
          num(PerfMath.median(rate), "%.0f"),
          direct == null ? "n/a" : num(PerfMath.medianRatio(rate, values(direct, Cell::chunksPerSecond)), "%.2f"),
          jetty == null ? "n/a" : num(PerfMath.medianRatio(rate, values(jetty, Cell::chunksPerSecond)), "%.2f"),
          firstAnswer,
          ms(PerfMath.median(values(c, x -> percentileMs(x, LoadStats::ttfb, 50)))) + " / "
              + ms(PerfMath.median(values(c, x -> percentileMs(x, LoadStats::ttfb, 99)))),
          ms(PerfMath.median(values(c, x -> percentileMs(x, LoadStats::gap, 99)))),
          isDirect ? "(mock " + cpu + ")" : cpu,
          isDirect ? "(mock " + rssText + ")" : rssText,
          isDirect ? "(mock " + threadsText + ")" : threadsText);
    }
    return t;
  }

  private static double[] values(Cell[] cells, ToDoubleFunction<Cell> f) {
    double[] v = new double[cells.length];
    for (int i = 0; i < cells.length; i++) {
      v[i] = cells[i] == null ? Double.NaN : f.applyAsDouble(cells[i]);
    }
    return v;
  }

  /** A percentile of one of the cell's histograms in ms; NaN when it holds nothing. */
  private static double percentileMs(Cell c, Function<LoadStats, Histogram> which, double p) {
    if (c.total() == null) {
      return Double.NaN;
    }
    Histogram h = which.apply(c.total());
    return h.count() == 0 ? Double.NaN : h.percentile(p) / 1000.0;
  }

  /** The exact mean of one of the cell's histograms in ms; NaN when it holds nothing. */
  private static double meanMs(Cell c, Function<LoadStats, Histogram> which) {
    if (c.total() == null) {
      return Double.NaN;
    }
    Histogram h = which.apply(c.total());
    return h.count() == 0 ? Double.NaN : h.mean() / 1000.0;
  }

  private static String num(double v, String format) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "n/a";
  }

  static String ms(double ms) {
    if (!Double.isFinite(ms)) {
      return "n/a";
    }
    double a = Math.abs(ms);
    return String.format(Locale.ROOT, a < 10 ? "%.2f" : a < 1000 ? "%.1f" : "%.0f", ms);
  }

  static String signedMs(double ms) {
    return !Double.isFinite(ms) ? "n/a" : (ms >= 0 ? "+" : "") + ms(ms);
  }

  /** Cores, CPU model, memory, kernel and load average of this machine, as a Markdown paragraph. */
  private static String machine() {
    String model = "?";
    String mem = "?";
    try {
      model = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("?");
      mem = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
          .map(l -> String.format(Locale.ROOT, "%.1f GiB",
              Long.parseLong(l.replaceAll("\\D", "")) / 1048576.0)).findFirst().orElse("?");
    } catch (IOException | RuntimeException e) {
      // leave the question marks
    }
    return String.format(Locale.ROOT, "machine: %d CPUs (%s), %s RAM, %s %s; load average at the start: %s%n%n",
        Runtime.getRuntime().availableProcessors(), model, mem, System.getProperty("os.name"),
        System.getProperty("os.version"), loadAverage());
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2] + " (1, 5, 15 min)";
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }
}
