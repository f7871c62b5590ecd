package dev.thinkproxy.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Measures cancellation latency: the time from a client leaving a stream to the proxy closing its upstream
 * connection. The upstream runs in this process ({@link CancelUpstream}) and so does the client
 * ({@link CancelClient}), so both ends are timed on one clock; the proxy is the standalone server as a child
 * process. Each scenario is a way of leaving (FIN or RST) at a point of the stream (while events flow, during a
 * silence of the upstream, before the response headers). Prints Markdown.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.CancelRun --rounds 200</pre>
 */
public final class CancelRun {
  private static final String USAGE = """
      usage: CancelRun [options]
        --rounds N             streams per mid-stream scenario (default 200)
        --silent-rounds N      streams per silent and before-headers scenario, which take seconds each (default 20)
        --concurrency C        streams in flight at once within a scenario (default 1); before headers runs
                               all of its streams at once, since each may wait out the whole cap
        --tick-ms N            between the upstream's events in the mid-stream scenarios (default 50)
        --heartbeat DURATION   the proxy's --heartbeat-interval, unless a --proxy-arg sets it (default 1s)
        --cap DURATION         longest wait for the upstream to see the close, per stream (default 10s)
        --warmup N             mid-stream FIN streams before the measurement, not counted (default 50)
      """ + Harness.OPTIONS_HELP;
  private static final String HEARTBEAT_FLAG = "--heartbeat-interval";

  /** A way of leaving a stream: what the upstream does, when the client leaves and how. */
  private enum Scenario {
    MID_FIN("mid-stream FIN", "mid-fin", CancelUpstream.Behaviour.TICKING, CancelClient.Moment.FIRST_EVENT, false),
    MID_RST("mid-stream RST", "mid-rst", CancelUpstream.Behaviour.TICKING, CancelClient.Moment.FIRST_EVENT, true),
    SILENT_FIN("silent FIN", "silent-fin", CancelUpstream.Behaviour.ONE_EVENT, CancelClient.Moment.FIRST_EVENT,
        false),
    SILENT_RST("silent RST", "silent-rst", CancelUpstream.Behaviour.ONE_EVENT, CancelClient.Moment.FIRST_EVENT,
        true),
    BEFORE_HEADERS("before headers", "before-headers", CancelUpstream.Behaviour.NO_ANSWER,
        CancelClient.Moment.REQUEST_AT_UPSTREAM, false);

    final String label;
    final String key;
    final CancelUpstream.Behaviour behaviour;
    final CancelClient.Moment moment;
    final boolean reset;

    Scenario(String label, String key, CancelUpstream.Behaviour behaviour, CancelClient.Moment moment,
        boolean reset) {
      this.label = label;
      this.key = key;
      this.behaviour = behaviour;
      this.moment = moment;
      this.reset = reset;
    }

    /** The scenarios that wait out seconds of silence per stream, and so run fewer rounds. */
    boolean slow() {
      return behaviour != CancelUpstream.Behaviour.TICKING;
    }

    /**
     * Whether the streams run all at once: a stream the proxy does not cancel costs the whole cap, and while it
     * waits the proxy has nothing to do for it, so the others are not disturbed.
     */
    boolean allAtOnce() {
      return this == BEFORE_HEADERS;
    }
  }

  /** What one scenario measured; filled by its client threads. */
  private static final class Result {
    private final int rounds;
    private final int atOnce;
    private final Histogram latencyMicros = new Histogram();
    private final Map<String, Integer> reasons = new LinkedHashMap<>();
    private int notWithinCap;
    private int failed;
    private long wallNanos;

    Result(int rounds, int atOnce) {
      this.rounds = rounds;
      this.atOnce = atOnce;
    }

    synchronized void cancelled(long micros) {
      latencyMicros.record(micros);
    }

    synchronized void notWithinCap() {
      notWithinCap++;
    }

    synchronized void failed(String reason) {
      failed++;
      reasons.merge(reason, 1, Integer::sum);
    }
  }

  private final Args args;
  private final int rounds;
  private final int silentRounds;
  private final int concurrency;
  private final Duration tick;
  private final String heartbeat;
  private final Duration cap;
  private final int warmup;

  private CancelRun(Args a) {
    args = a;
    rounds = a.intValue("--rounds", 200);
    silentRounds = a.intValue("--silent-rounds", 20);
    concurrency = Math.max(1, a.intValue("--concurrency", 1));
    tick = Duration.ofMillis(a.intValue("--tick-ms", 50));
    heartbeat = a.string("--heartbeat", "1s");
    Args.parseDuration("--heartbeat", heartbeat);
    cap = a.duration("--cap", Duration.ofSeconds(10));
    warmup = a.intValue("--warmup", 50);
  }

  public static void main(String[] argv) throws Exception {
    Set<String> options = new HashSet<>(Harness.OPTIONS);
    options.addAll(Set.of("--rounds", "--silent-rounds", "--concurrency", "--tick-ms", "--heartbeat", "--cap",
        "--warmup"));
    CancelRun run = Args.parseOrExit(argv, Set.of(), options, USAGE, CancelRun::new);
    if (run == null) {
      return;
    }
    run.run();
    System.exit(0);
  }

  private void run() throws Exception {
    try (Harness h = new Harness(args, "cancel"); CancelUpstream upstream = CancelUpstream.start(tick)) {
      System.err.println("logs in " + h.logDir());
      h.startProxy(List.of(HEARTBEAT_FLAG + "=" + heartbeat));
      String date = ZonedDateTime.now().truncatedTo(ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
      Runner runner = new Runner(h.proxyAddress(), upstream);
      Result w = runner.run(Scenario.MID_FIN, "warmup", warmup, concurrency);
      if (w.failed > 0 || w.notWithinCap > 0) {
        System.err.println("warning: warm-up: " + w.failed + " failed, " + w.notWithinCap + " not cancelled within "
            + "the cap; " + w.reasons);
      }
      Map<Scenario, Result> results = new LinkedHashMap<>();
      for (Scenario s : Scenario.values()) {
        int n = s.slow() ? silentRounds : rounds;
        int atOnce = Math.max(1, Math.min(n, s.allAtOnce() ? n : concurrency));
        System.err.println(s.label + ": " + n + " streams, " + atOnce + " at a time");
        Result r = runner.run(s, s.key, n, atOnce);
        System.err.printf(Locale.ROOT, "%s: %d cancelled, %d not within the cap, %d failed in %.1f s%n", s.label,
            r.latencyMicros.count(), r.notWithinCap, r.failed, r.wallNanos / 1e9);
        results.put(s, r);
      }
      print(h, date, results);
    }
  }

  /** Runs the streams of a scenario, a given number at a time, each on its own platform thread. */
  private final class Runner {
    private final InetSocketAddress proxy;
    private final CancelUpstream upstream;

    Runner(InetSocketAddress proxy, CancelUpstream upstream) {
      this.proxy = proxy;
      this.upstream = upstream;
    }

    Result run(Scenario s, String idPrefix, int n, int atOnce) throws InterruptedException {
      Result r = new Result(n, atOnce);
      AtomicInteger next = new AtomicInteger();
      List<Thread> threads = new ArrayList<>();
      long start = System.nanoTime();
      for (int c = 0; c < atOnce; c++) {
        Thread t = new Thread(() -> {
          for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
            if (!one(s, idPrefix + "-" + i, r)) {
              return;
            }
          }
        }, "cancel-client-" + c);
        t.setDaemon(true);
        t.start();
        threads.add(t);
      }
      for (Thread t : threads) {
        t.join();
      }
      r.wallNanos = System.nanoTime() - start;
      return r;
    }

    /** One stream; false when interrupted. */
    private boolean one(Scenario s, String id, Result r) {
      CancelUpstream.Stream stream = upstream.expect(id, s.behaviour);
      String path = "/proxy/http://127.0.0.1:" + upstream.port() + CancelUpstream.path(id);
      try {
        long t0 = CancelClient.leave(proxy, path, s.moment, s.reset, stream, cap);
        long left = t0 + cap.toNanos() - System.nanoTime();
        try {
          long closed = stream.closedAt().get(Math.max(0, left), TimeUnit.NANOSECONDS);
          r.cancelled((closed - t0) / 1000);
        } catch (TimeoutException e) {
          r.notWithinCap();
        }
      } catch (IOException e) {
        r.failed(e.getMessage() == null ? e.toString() : e.getMessage());
      } catch (ExecutionException e) {
        r.failed("upstream: " + e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      } finally {
        upstream.forget(id);
      }
      return true;
    }
  }

  /** The heartbeat interval the proxy runs with: the user's own flag wins, as in {@link Harness#startProxy}. */
  private String heartbeatInEffect() {
    for (String p : args.all("--proxy-arg")) {
      String[] kv = p.split("=", 2);
      if (kv[0].equals(HEARTBEAT_FLAG)) {
        return kv.length > 1 ? kv[1] : "(as given)";
      }
    }
    return heartbeat;
  }

  private void print(Harness h, String date, Map<Scenario, Result> results) throws Exception {
    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "## Cancel run: %d rounds mid-stream, %d silent and before headers, "
        + "concurrency %d%n%n", rounds, silentRounds, concurrency));
    out.append("date: ").append(date).append("\n\n");
    out.append(h.describeRun());
    out.append(String.format(Locale.ROOT, "upstream tick %d ms, proxy heartbeat %s, cap %d ms per stream, warm-up "
        + "%d mid-stream FIN streams (not counted)%n%n", tick.toMillis(), heartbeatInEffect(), cap.toMillis(),
        warmup));

    out.append("### Cancellation latency\n\nFrom the client's close (taken just before `close()`) to the upstream "
        + "seeing the proxy's end of the connection (its read returns -1 or fails). Client and upstream run in the "
        + "runner, on one clock.\n\n");
    MarkdownTable t = new MarkdownTable("scenario", "rounds", "at a time", "cancelled within cap",
        "not cancelled within cap", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms", "wall s");
    results.forEach((s, r) -> {
      Histogram l = r.latencyMicros;
      boolean any = l.count() > 0;
      t.row(s.label, r.rounds, r.atOnce, l.count(), r.notWithinCap, r.failed, any ? Report.ms(l.percentile(50)) : "–",
          any ? Report.ms(l.percentile(90)) : "–", any ? Report.ms(l.percentile(99)) : "–",
          any ? Report.ms(l.max()) : "–", String.format(Locale.ROOT, "%.1f", r.wallNanos / 1e9));
    });
    out.append(t).append('\n');
    out.append(String.format(Locale.ROOT, """
        - mid-stream: the upstream sends an event every %d ms; the client leaves after the first. The proxy notices \
        on a write to the client: after a RST the next write fails, after a FIN the next is answered with a RST and \
        the one after fails.
        - silent: the upstream sends one event and then nothing; the client leaves right after it. With nothing to \
        relay, the proxy notices only through its heartbeat comment after %s of silence; after a FIN the first \
        heartbeat still goes out and the second, 1 s later, fails. Its timer runs at a quarter of the shortest \
        interval, which adds up to that much.
        - before headers: the upstream reads the request and answers nothing; the client leaves once the upstream \
        has the request. After a heartbeat interval without an answer the proxy starts the client's event stream \
        itself with a heartbeat, and notices the close as in the silent case. Its streams run all at once, as each \
        may wait out the whole cap.
        %n""", tick.toMillis(), heartbeatInEffect()));
    results.forEach((s, r) -> {
      if (r.notWithinCap > 0) {
        out.append(String.format(Locale.ROOT, "%s: %d of %d streams still had their upstream connection open %d ms "
            + "after the client left.%n%n", s.label, r.notWithinCap, r.rounds, cap.toMillis()));
      }
    });
    out.append("longest safepoint pause of the proxy over the whole run: ").append(h.longestProxySafepoint())
        .append(" (from `proxy-gc.log`)\n\n");

    out.append("### Failure reasons\n\n");
    boolean anyFailed = false;
    MarkdownTable f = new MarkdownTable("scenario", "failure reason", "streams");
    for (Map.Entry<Scenario, Result> e : results.entrySet()) {
      for (Map.Entry<String, Integer> reason : e.getValue().reasons.entrySet()) {
        f.row(e.getKey().label, "`" + reason.getKey().replace("|", "\\|") + "`", reason.getValue());
        anyFailed = true;
      }
    }
    out.append(anyFailed ? f.toString() : "(no failures)\n");
    System.out.print(out);
  }
}
