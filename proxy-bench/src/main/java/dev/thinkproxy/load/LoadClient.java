package dev.thinkproxy.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A load generator for streamed chat completions on one selector thread: opens streams at a fixed concurrency
 * (closed loop) or at a steady arrival rate with a concurrency cap, for a count of streams or a duration, and
 * measures each (see {@link LoadStats}). Every stream POSTs a small chat request with {@code "stream":true} and
 * {@code Authorization: Bearer test}; what it asks for comes from a {@link StreamPlan.Planner}.
 *
 * <p>In rate mode a stream that arrives while the cap is reached waits for a free slot, and its times are
 * taken from when it actually starts.
 */
public final class LoadClient implements AutoCloseable {
  static final byte[] BODY = ("{\"model\":\"mock-model\",\"stream\":true,\"messages\":[{\"role\":\"user\","
      + "\"content\":\"Think it over, then answer.\"}]}").getBytes(StandardCharsets.UTF_8);
  private static final long TIMEOUT_SCAN_NANOS = 250_000_000L;

  /** How to run; fluent setters, defaults as documented on each. */
  public static final class Options {
    private final InetSocketAddress address;
    private int concurrency = 100;
    private long streams;
    private Duration duration = Duration.ZERO;
    private double rate;
    private boolean keepAlive;
    private Duration connectTimeout = Duration.ofSeconds(30);
    private Duration idleTimeout = Duration.ofSeconds(60);
    private long seed = 1;

    /** Streams go to {@code address} (127.0.0.1 and a port). */
    public Options(InetSocketAddress address) {
      this.address = address;
    }

    /** Most streams open at once (default 100); in closed-loop mode, the number kept open. */
    public Options concurrency(int n) {
      concurrency = n;
      return this;
    }

    /** Stop starting streams after this many (default 0: no limit). */
    public Options streams(long n) {
      streams = n;
      return this;
    }

    /** Stop starting streams after this long (default zero: no limit). */
    public Options duration(Duration d) {
      duration = d;
      return this;
    }

    /** Start streams at this many per second (default 0: closed loop at the concurrency). */
    public Options rate(double perSecond) {
      rate = perSecond;
      return this;
    }

    /** Reuse connections (default false: a new connection per stream). */
    public Options keepAlive(boolean on) {
      keepAlive = on;
      return this;
    }

    /** Default 30 s. */
    public Options connectTimeout(Duration d) {
      connectTimeout = d;
      return this;
    }

    /** Longest silence within a stream (default 60 s). */
    public Options idleTimeout(Duration d) {
      idleTimeout = d;
      return this;
    }

    /** Seed of the plan choices (default 1). */
    public Options seed(long s) {
      seed = s;
      return this;
    }
  }

  /** Where the run stands: streams started, in flight by stage, ended, waiting for a slot. */
  public record Progress(long launched, int connecting, int open, int responding, long ended, long backlog,
      boolean finished) {}

  private final EventLoop loop = new EventLoop("load-client");
  private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
  private final InetSocketAddress address;
  private final int concurrency;
  private final long streamLimit;
  private final long durationNanos;
  private final double rate;
  private final boolean keepAlive;
  private final long connectTimeoutNanos;
  private final long idleTimeoutNanos;
  private final StreamPlan.Planner planner;
  private final SplittableRandom random;
  private final Set<ClientConnection> active = new HashSet<>();
  private final ArrayDeque<ClientConnection> idle = new ArrayDeque<>();
  private final CompletableFuture<Void> finished = new CompletableFuture<>();
  private final LoadStats total = new LoadStats();
  private LoadStats window = new LoadStats();
  private long startNanos;
  private long launched;
  private long arrivals;
  private long backlog;
  private long ended;
  private boolean tickPending;

  private LoadClient(Options o, StreamPlan.Planner planner) {
    address = o.address;
    concurrency = o.concurrency;
    streamLimit = o.streams;
    durationNanos = o.duration.toNanos();
    rate = o.rate;
    keepAlive = o.keepAlive;
    connectTimeoutNanos = o.connectTimeout.toNanos();
    idleTimeoutNanos = o.idleTimeout.toNanos();
    this.planner = planner;
    random = new SplittableRandom(o.seed);
  }

  /** Starts the run in the background. */
  public static LoadClient start(Options options, StreamPlan.Planner planner) {
    LoadClient c = new LoadClient(options, planner);
    c.loop.start();
    c.loop.submit(() -> {
      c.startNanos = System.nanoTime();
      if (c.rate > 0) {
        c.arrive();
      } else {
        c.tick();
      }
      c.scheduleTimeoutScan();
      return null;
    });
    return c;
  }

  /** Waits until no more streams will start and every started one has ended; false on timeout. */
  public boolean awaitFinished(Duration timeout) throws InterruptedException {
    try {
      finished.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  public Progress progress() {
    return call(() -> {
      int connecting = 0;
      int open = 0;
      int responding = 0;
      for (ClientConnection c : active) {
        if (!c.isConnected()) {
          connecting++;
        } else {
          open++;
          if (c.responding()) {
            responding++;
          }
        }
      }
      return new Progress(launched, connecting, open, responding, ended, backlog, finished.isDone());
    });
  }

  /** Everything measured so far. */
  public LoadStats total() {
    return call(total::copy);
  }

  /** What was measured since the previous call (or the start), and a fresh window from now on. */
  public LoadStats takeWindow() {
    return call(() -> {
      LoadStats w = window;
      window = new LoadStats();
      return w;
    });
  }

  @Override
  public void close() {
    loop.close();
  }

  private <T> T call(Callable<T> task) {
    try {
      return loop.submit(task).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the client's loop did not answer", e);
    }
  }

  EventLoop loop() {
    return loop;
  }

  ByteBuffer readBuffer() {
    return readBuffer;
  }

  InetSocketAddress address() {
    return address;
  }

  void record(Consumer<LoadStats> update) {
    update.accept(total);
    update.accept(window);
  }

  void streamEnded(ClientConnection c, StreamPlan plan, StreamOutcome outcome, String reason, long micros,
      boolean reusable) {
    active.remove(c);
    ended++;
    record(s -> {
      s.recordOutcome(plan.kind(), outcome, reason);
      s.duration.record(micros);
    });
    if (reusable && keepAlive) {
      idle.add(c);
    } else if (reusable) {
      c.close();
    }
    requestTick();
  }

  /** A pooled connection that the server closed. */
  void discard(ClientConnection c) {
    idle.remove(c);
    c.close();
  }

  private void requestTick() {
    // Deferred, so a burst of streams failing at once does not recurse through launch and end.
    if (!tickPending) {
      tickPending = true;
      loop.schedule(System.nanoTime(), () -> {
        tickPending = false;
        tick();
      });
    }
  }

  /** Rate mode: counts the arrivals due by now and sets the timer for the next one. */
  private void arrive() {
    long now = System.nanoTime();
    if (!launchingOver(now)) {
      long due = (long) ((now - startNanos) / 1e9 * rate) + 1;
      if (streamLimit > 0) {
        due = Math.min(due, streamLimit);
      }
      backlog += Math.max(0, due - arrivals);
      arrivals = Math.max(arrivals, due);
      if (streamLimit == 0 || arrivals < streamLimit) {
        loop.schedule(startNanos + (long) Math.ceil(arrivals / rate * 1e9), this::arrive);
      }
    }
    tick();
  }

  /** Starts what may start now, and notices the end of the run. */
  private void tick() {
    long now = System.nanoTime();
    if (rate > 0) {
      if (launchingOver(now)) {
        backlog = 0;
      }
      while (backlog > 0 && active.size() < concurrency && !launchingOver(now)) {
        backlog--;
        launch(now);
      }
    } else {
      while (active.size() < concurrency && !launchingOver(now)) {
        launch(now);
      }
    }
    if (launchingOver(now) && active.isEmpty() && !finished.isDone()) {
      finished.complete(null);
    }
  }

  private boolean launchingOver(long now) {
    return (streamLimit > 0 && launched >= streamLimit) || (durationNanos > 0 && now - startNanos >= durationNanos);
  }

  private void launch(long now) {
    StreamPlan plan = planner.next(random);
    launched++;
    ClientConnection c = keepAlive ? idle.poll() : null;
    try {
      if (c == null) {
        SocketChannel ch = SocketChannel.open();
        ch.configureBlocking(false);
        c = new ClientConnection(this, ch);
      }
      active.add(c);
      c.begin(plan, request(plan.path()), now);
    } catch (IOException e) {
      if (c != null) {
        c.failed(e);
      } else {
        // No socket at all (out of file descriptors or ports): the stream ends before it began.
        ended++;
        record(s -> s.recordOutcome(plan.kind(), StreamOutcome.CONNECT_FAILED, "socket: " + e.getMessage()));
        requestTick();
      }
    }
  }

  private byte[] request(String path) {
    String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + address.getPort() + "\r\n"
        + "Authorization: Bearer test\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
        + "Content-Length: " + BODY.length + "\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n";
    byte[] h = head.getBytes(StandardCharsets.UTF_8);
    byte[] r = new byte[h.length + BODY.length];
    System.arraycopy(h, 0, r, 0, h.length);
    System.arraycopy(BODY, 0, r, h.length, BODY.length);
    return r;
  }

  private void scheduleTimeoutScan() {
    loop.schedule(System.nanoTime() + TIMEOUT_SCAN_NANOS, () -> {
      long now = System.nanoTime();
      List<ClientConnection> late = new ArrayList<>();
      for (ClientConnection c : active) {
        boolean connectLate = !c.isConnected() && now - c.startNanos() > connectTimeoutNanos;
        boolean idleLate = c.isConnected() && now - c.lastActivityNanos() > idleTimeoutNanos;
        if (connectLate || idleLate) {
          late.add(c);
        }
      }
      late.forEach(ClientConnection::timedOut);
      scheduleTimeoutScan();
    });
  }

  /** Runs the client alone against a URL and prints the report. */
  public static void main(String[] argv) throws InterruptedException {
    Args a = Args.parse(argv, Set.of("--keep-alive"), Set.of("--url", "--concurrency",
        "--streams", "--duration", "--rate", "--abort-share", "--abort-within", "--connect-timeout",
        "--idle-timeout", "--seed"));
    if (a.help() || a.string("--url", null) == null) {
      System.out.println("usage: LoadClient --url http://127.0.0.1:PORT/PATH?QUERY [--concurrency N (100)] "
          + "[--streams N] [--duration D] [--rate PER_SECOND] [--keep-alive] [--abort-share 0..1] "
          + "[--abort-within EVENTS (200)] [--connect-timeout D (30s)] [--idle-timeout D (60s)] [--seed N]");
      return;
    }
    URI url = URI.create(a.string("--url", null));
    String path = url.getRawPath() + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
    Options o = new Options(new InetSocketAddress(url.getHost(), url.getPort()))
        .concurrency(a.intValue("--concurrency", 100))
        .streams(a.intValue("--streams", 0))
        .duration(a.duration("--duration", Duration.ZERO))
        .rate(a.doubleValue("--rate", 0))
        .keepAlive(a.flag("--keep-alive"))
        .connectTimeout(a.duration("--connect-timeout", Duration.ofSeconds(30)))
        .idleTimeout(a.duration("--idle-timeout", Duration.ofSeconds(60)))
        .seed(a.intValue("--seed", 1));
    if (o.streams == 0 && o.duration.isZero()) {
      o.streams(1000);
    }
    try (LoadClient client = start(o, StreamPlan.fixed(path, a.doubleValue("--abort-share", 0),
        a.intValue("--abort-within", 200)))) {
      while (!client.awaitFinished(Duration.ofSeconds(5))) {
        System.out.println(client.progress());
      }
      LoadStats s = client.total();
      System.out.println(Report.outcomes(s));
      System.out.println(Report.latency(Map.of(url.toString(), s)));
    }
  }
}
