package dev.thinkproxy.load;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An OpenAI-compatible mock LLM on 127.0.0.1: one selector thread serves every connection, so it holds tens of
 * thousands of open streams for the cost of their sockets. {@code POST …/chat/completions} streams a
 * completion shaped by the query string (see {@link StreamSpec}); {@code GET …/v1/models} lists one model;
 * {@code GET /stats} returns {@link MockStats} as JSON (counting every connection but the one asking).
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.MockUpstream --port 9100</pre>
 */
public final class MockUpstream implements AutoCloseable {
  private final EventLoop loop = new EventLoop("mock-upstream");
  private final ServerSocketChannel server;
  private final SelectionKey acceptKey;
  private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
  private final Set<MockConnection> connections = new HashSet<>();
  private long accepted;
  private long requests;
  private long started;
  private long completed;
  private long faulted;
  private long clientClosed;

  private MockUpstream(int port, int backlog) throws IOException {
    server = ServerSocketChannel.open();
    server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), backlog);
    server.configureBlocking(false);
    acceptKey = server.register(loop.selector(), SelectionKey.OP_ACCEPT, new Acceptor());
  }

  /** Starts a mock on {@code port} of 127.0.0.1 (0 picks a free one). */
  public static MockUpstream start(int port) throws IOException {
    return start(port, 4096);
  }

  /** As {@link #start(int)}, with the listen backlog (the kernel caps it at {@code net.core.somaxconn}). */
  public static MockUpstream start(int port, int backlog) throws IOException {
    MockUpstream mock = new MockUpstream(port, backlog);
    mock.loop.start();
    return mock;
  }

  public int port() {
    return server.socket().getLocalPort();
  }

  /** The counters now. */
  public MockStats stats() {
    try {
      return loop.submit(() -> snapshotExcluding(null)).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the mock's loop did not answer", e);
    }
  }

  /** Prints {@link MockStats#toLine()} to stdout every {@code interval}. */
  public void printStatsEvery(Duration interval) {
    loop.submit(() -> {
      schedulePrint(interval.toNanos());
      return null;
    });
  }

  private void schedulePrint(long intervalNanos) {
    loop.schedule(System.nanoTime() + intervalNanos, () -> {
      System.out.println("mock: " + snapshotExcluding(null).toLine());
      schedulePrint(intervalNanos);
    });
  }

  @Override
  public void close() {
    loop.close();
  }

  EventLoop loop() {
    return loop;
  }

  ByteBuffer readBuffer() {
    return readBuffer;
  }

  MockStats snapshotExcluding(MockConnection asking) {
    int idle = 0;
    int streaming = 0;
    int stalled = 0;
    for (MockConnection c : connections) {
      if (c == asking) {
        continue;
      }
      if (c.idle()) {
        idle++;
      } else if (c.state() == MockConnection.State.STREAM) {
        streaming++;
      } else if (c.state() == MockConnection.State.STALLED) {
        stalled++;
      }
    }
    int open = connections.size() - (asking != null && connections.contains(asking) ? 1 : 0);
    return new MockStats(open, idle, streaming, stalled, accepted, requests, started, completed, faulted,
        clientClosed);
  }

  void requestReceived() {
    requests++;
  }

  long streamStarted() {
    return ++started;
  }

  void streamCompleted() {
    completed++;
  }

  void streamFaulted() {
    faulted++;
  }

  void streamClientClosed() {
    clientClosed++;
  }

  void connectionClosed(MockConnection c) {
    connections.remove(c);
  }

  private final class Acceptor implements EventLoop.Handler {
    @Override
    public void ready(SelectionKey key) throws IOException {
      SocketChannel ch;
      while ((ch = server.accept()) != null) {
        accepted++;
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        connections.add(new MockConnection(MockUpstream.this, ch));
      }
    }

    @Override
    public void failed(Exception e) {
      // Out of file descriptors, typically: say so, keep serving the open connections, and retry shortly
      // instead of spinning on a listening socket that stays ready.
      System.err.println("mock: accept failed: " + e);
      acceptKey.interestOps(0);
      loop.schedule(System.nanoTime() + 100_000_000L, () -> {
        if (acceptKey.isValid()) {
          acceptKey.interestOps(SelectionKey.OP_ACCEPT);
        }
      });
    }
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    Args a = Args.parse(args, Set.of(), Set.of("--port", "--stats-interval", "--backlog"));
    if (a.help()) {
      System.out.println("usage: MockUpstream [--port N (0)] [--stats-interval DURATION (10s; 0 = off)] "
          + "[--backlog N (4096)]");
      return;
    }
    MockUpstream mock = start(a.intValue("--port", 0), a.intValue("--backlog", 4096));
    Duration interval = a.duration("--stats-interval", Duration.ofSeconds(10));
    if (!interval.isZero()) {
      mock.printStatsEvery(interval);
    }
    System.out.println("mock upstream listening on http://127.0.0.1:" + mock.port());
    Thread.currentThread().join();
  }
}
