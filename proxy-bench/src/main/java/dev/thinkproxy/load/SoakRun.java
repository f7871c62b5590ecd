package dev.thinkproxy.load;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Runs mixed traffic through the proxy at a steady arrival rate for a long time and watches the proxy for
 * leaks: 70 % normal streams, 10 % cancelled by the client at a random event, 20 % whose upstream fails
 * (reset, truncate, stall, partial, garbage in equal shares, at a random event). The proxy is sampled after
 * the warm-up, every interval and at the end (heap after a forced GC, RSS, threads, fds, CPU); the end also
 * reports the mock's connections still open. Prints Markdown.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.SoakRun --duration 10m</pre>
 */
public final class SoakRun {
  private static final String USAGE = """
      usage: SoakRun [options]
        --duration DURATION    how long streams keep arriving (default 10m)
        --rate N               streams started per second (default 20)
        --max-concurrency N    most streams open at once; later arrivals wait (default 1000)
        --chunks N             content chunks per stream (default 40)
        --delay-ms N           between chunks (default 50)
        --size N               bytes of text per chunk (default 16)
        --sample-interval D    between samples of the proxy (default 60s)
        --warmup DURATION      mixed traffic before the first sample (default 20s)
        --final-settle D       wait after the last stream before the final sample, so idle threads and
                               connections can expire (default 65s)
        --seed N               seed of the traffic mix (default 1)
        --keep-alive           reuse client connections (default: a new connection per stream)
      The proxy gets --idle-timeout=5s unless a --proxy-arg sets it, so stalled upstreams end in seconds.
      """ + Harness.OPTIONS_HELP;
  private static final String[] FAULTS = {"reset", "truncate", "stall", "partial", "garbage"};

  private final Args args;
  private final Duration duration;
  private final double rate;
  private final int chunks;
  private final String base;

  private SoakRun(Args a) {
    args = a;
    duration = a.duration("--duration", Duration.ofMinutes(10));
    rate = a.doubleValue("--rate", 20);
    chunks = a.intValue("--chunks", 40);
    base = String.format(Locale.ROOT, "chunks=%d&delay_ms=%d&size=%d&reasoning=0.5", chunks,
        a.intValue("--delay-ms", 50), a.intValue("--size", 16));
  }

  /** One row of the samples table: the proxy then, and what the client saw since the previous row. */
  private record Row(String label, ProcessStats.Sample sample, LoadStats window, double cpuShare) {}

  public static void main(String[] argv) throws Exception {
    Set<String> options = new HashSet<>(Harness.OPTIONS);
    options.addAll(Set.of("--duration", "--rate", "--max-concurrency", "--chunks", "--delay-ms", "--size",
        "--sample-interval", "--warmup", "--final-settle", "--seed"));
    SoakRun run = Args.parseOrExit(argv, Set.of("--keep-alive"), options, USAGE, SoakRun::new);
    if (run == null) {
      return;
    }
    FileLimits.raiseOwn();
    run.run();
    System.exit(0);
  }

  /** The traffic mix; each stream's fault or abort point is uniform over its events. */
  private StreamPlan.Planner mix(Harness h) {
    return (SplittableRandom random) -> {
      double r = random.nextDouble();
      if (r < 0.70) {
        return StreamPlan.of("normal", h.proxiedPath(base));
      }
      if (r < 0.80) {
        return new StreamPlan("cancelled", h.proxiedPath(base), 1 + random.nextInt(chunks + 1));
      }
      String fault = FAULTS[(int) ((r - 0.80) / 0.20 * FAULTS.length)];
      return StreamPlan.of(fault, h.proxiedPath(base + "&fault=" + fault + "@" + (1 + random.nextInt(chunks))));
    };
  }

  private LoadClient.Options options(Harness h, Duration d, long seed) {
    return new LoadClient.Options(h.proxyAddress())
        .rate(rate)
        .concurrency(args.intValue("--max-concurrency", 1000))
        .duration(d)
        .keepAlive(args.flag("--keep-alive"))
        .seed(seed);
  }

  private void run() throws Exception {
    Duration interval = args.duration("--sample-interval", Duration.ofSeconds(60));
    long seed = args.intValue("--seed", 1);
    try (Harness h = new Harness(args, "soak")) {
      System.err.println("logs in " + h.logDir());
      h.startMock();
      h.startProxy(List.of("--idle-timeout=5s"));
      ProcessStats stats = h.proxyStats();

      Duration warmup = args.duration("--warmup", Duration.ofSeconds(20));
      try (LoadClient w = LoadClient.start(options(h, warmup, seed + 1), mix(h))) {
        w.awaitFinished(warmup.plusMinutes(2));
      }
      List<Row> rows = new ArrayList<>();
      rows.add(new Row("start (after warm-up)", stats.sample("start", true), null, Double.NaN));
      long t0 = System.nanoTime();
      LoadStats total;
      try (LoadClient client = LoadClient.start(options(h, duration, seed), mix(h))) {
        long next = t0 + interval.toNanos();
        while (!client.awaitFinished(Duration.ofMillis(Math.max(1, (next - System.nanoTime()) / 1_000_000)))) {
          if (System.nanoTime() >= next) {
            rows.add(sampleRow(stats, rows, client.takeWindow(), elapsed(t0)));
            System.err.println(rows.get(rows.size() - 1).label() + ": " + client.progress());
            next += interval.toNanos();
          }
          if (System.nanoTime() - t0 > duration.plusMinutes(5).toNanos()) {
            System.err.println("warning: streams still open 5 min after the end: " + client.progress());
            break;
          }
        }
        rows.add(sampleRow(stats, rows, client.takeWindow(), elapsed(t0) + " (last stream ended)"));
        total = client.total();
      }
      MockStats mockAtEnd = h.mockStats();
      Duration settle = args.duration("--final-settle", Duration.ofSeconds(65));
      MockStats mockSettled = null;
      if (!settle.isZero()) {
        Thread.sleep(settle.toMillis());
        rows.add(sampleRow(stats, rows, new LoadStats(), "+ " + settle.toSeconds() + " s idle"));
        mockSettled = h.mockStats();
      }
      print(h, rows, total, mockAtEnd, mockSettled, settle);
    }
  }

  /** Samples the proxy; CPU share is over the time since the previous row. */
  private static Row sampleRow(ProcessStats stats, List<Row> rows, LoadStats window, String label)
      throws Exception {
    ProcessStats.Sample previous = rows.get(rows.size() - 1).sample();
    ProcessStats.Sample s = stats.sample(label, true);
    double seconds = (s.at().toEpochMilli() - previous.at().toEpochMilli()) / 1000.0;
    return new Row(label, s, window, (s.cpuSeconds() - previous.cpuSeconds()) / seconds);
  }

  private static String elapsed(long t0) {
    long s = (System.nanoTime() - t0) / 1_000_000_000L;
    return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }

  private void print(Harness h, List<Row> rows, LoadStats total, MockStats mockAtEnd, MockStats mockSettled,
      Duration settle) throws Exception {
    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "## Soak run: %s at %.0f streams/s, %s%n%n", human(duration), rate, base));
    out.append(h.describeRun());

    out.append("### Proxy samples\n\nEach row: the proxy at that time (heap and RSS after a forced full GC), "
        + "CPU over the interval before it, and the streams that ended in that interval.\n\n");
    MarkdownTable t = new MarkdownTable("time", "heap after GC MiB", "RSS MiB", "RSS after GC MiB", "threads", "fds",
        "CPU s", "CPU % of a core", "streams ended", "done", "error event", "aborted", "other", "TTFB p99 ms",
        "gap p99 ms");
    for (Row r : rows) {
      ProcessStats.Sample s = r.sample();
      LoadStats w = r.window();
      boolean has = w != null;
      long other = has ? w.streams() - w.count(StreamOutcome.DONE) - w.count(StreamOutcome.ERROR_EVENT)
          - w.count(StreamOutcome.ABORTED) : 0;
      t.row(r.label(), Report.mib(s.heapAfterGcBytes()), Report.mib(s.rssBytes()), Report.mib(s.rssAfterGcBytes()),
          s.threads(), s.fds(), String.format(Locale.ROOT, "%.1f", s.cpuSeconds()),
          Double.isNaN(r.cpuShare()) ? "–" : String.format(Locale.ROOT, "%.0f", r.cpuShare() * 100),
          has ? w.streams() : "–", has ? w.count(StreamOutcome.DONE) : "–",
          has ? w.count(StreamOutcome.ERROR_EVENT) : "–", has ? w.count(StreamOutcome.ABORTED) : "–",
          has ? other : "–", has ? Report.ms(w.ttfb().percentile(99)) : "–",
          has ? Report.ms(w.gap().percentile(99)) : "–");
    }
    out.append(t).append('\n');

    out.append("longest safepoint pause of the proxy over the whole run: ").append(h.longestProxySafepoint())
        .append(" (from `proxy-gc.log`)\n\n");
    out.append("### Streams by kind and outcome\n\n").append(Report.outcomes(total)).append('\n');
    out.append(String.format(Locale.ROOT, "events: %d, with answer content: %d, with reasoning_content: %d, "
        + "not JSON: %d%n%n", total.events(), total.contentEvents(), total.reasoningEvents(),
        total.malformedEvents()));
    out.append("### Latency of all streams\n\n").append(Report.latency(Map.of("proxy", total))).append('\n');
    out.append("### Failure reasons\n\n").append(Report.reasons(total)).append('\n');

    out.append("### Mock upstream connections\n\n");
    MarkdownTable m = new MarkdownTable("when", "open", "idle (pooled by the proxy)", "streaming", "stalled",
        "streams started", "completed", "faulted", "closed by the proxy early");
    m.row("after the last stream", mockAtEnd.open(), mockAtEnd.idle(), mockAtEnd.streaming(), mockAtEnd.stalled(),
        mockAtEnd.started(), mockAtEnd.completed(), mockAtEnd.faulted(), mockAtEnd.clientClosed());
    if (mockSettled != null) {
      m.row("+ " + settle.toSeconds() + " s", mockSettled.open(), mockSettled.idle(), mockSettled.streaming(),
          mockSettled.stalled(), mockSettled.started(), mockSettled.completed(), mockSettled.faulted(),
          mockSettled.clientClosed());
    }
    out.append(m);
    System.out.print(out);
  }

  private static String human(Duration d) {
    return d.toSeconds() % 60 == 0 ? d.toMinutes() + " min" : d.toSeconds() + " s";
  }
}
