package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An HTTP/1.1 upstream on a raw {@link ServerSocket} (127.0.0.1, a thread per connection) that answers each
 * request with a {@link Script}: a status line and headers, body bytes written exactly as given (so a chunked
 * body can stop in a chunk-size line, or in the middle of a UTF-8 sequence), pauses and test-controlled gates
 * between them, and an {@link Ending}: a clean end, a FIN without the terminating chunk, an RST (SO_LINGER 0), or
 * a stall until the peer closes the connection.
 *
 * <p>Each request names its script by id in its path ({@code /s/<id>/…}). Every connection has a reader of its
 * own that notices at once when the peer closes it (a read returning -1 or failing) and records when; that is
 * how a test sees the proxy cancel an upstream call. What the upstream wrote is counted per exchange.
 *
 * <p>A connection whose response ended cleanly waits for the next request (the proxy may pool it); every other
 * connection is closed once its exchange is over.
 */
final class FaultUpstream implements AutoCloseable {
  /** Cap on every wait of the upstream itself, so that a failing test cannot leave a thread behind for long. */
  private static final Duration CAP = Duration.ofSeconds(60);
  private static final Pattern SCRIPT_ID = Pattern.compile("^/s/([^/]+)/");

  /** How a response ends after its last step. */
  enum Ending {
    /** Nothing more to write: the body is complete as scripted (a chunked body includes its terminator). */
    CLEAN,
    /** The upstream closes its side (FIN) without finishing the body. */
    FIN,
    /** The upstream resets the connection (SO_LINGER 0), discarding what the kernel has not delivered yet. */
    RESET,
    /** The upstream writes nothing more and waits until the peer closes the connection. */
    STALL
  }

  /** What an exchange came to. */
  enum Outcome {
    /** The script ran to its end. */
    SCRIPTED,
    /** The peer closed the connection before the script was over. */
    PEER_CLOSED
  }

  private final ServerSocket server;
  private final Thread acceptor;
  private final Map<String, Script> scripts = new ConcurrentHashMap<>();
  private final Map<String, Exchange> exchanges = new ConcurrentHashMap<>();
  private final List<Connection> connections = new CopyOnWriteArrayList<>();
  private final AtomicInteger connectionIds = new AtomicInteger();
  private final Object changes = new Object();
  private volatile boolean closed;

  FaultUpstream() throws IOException {
    server = new ServerSocket(0, 512, InetAddress.getByName("127.0.0.1"));
    acceptor = new Thread(this::acceptLoop, "fault-upstream-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return server.getLocalPort();
  }

  /** The URL, for the proxy, of the exchange that will run {@code script}. */
  String url(String id, Script script) {
    if (scripts.putIfAbsent(id, script) != null) {
      throw new IllegalArgumentException("script id already used: " + id);
    }
    return "http://127.0.0.1:" + port() + "/s/" + id + "/v1/chat/completions";
  }

  /** The exchange of script {@code id}, once its request has arrived. */
  Exchange exchange(String id, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (changes) {
      while (!exchanges.containsKey(id)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("the upstream received no request for script " + id + " within " + timeout);
        }
        changes.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
      return exchanges.get(id);
    }
  }

  /** How many connections the upstream has accepted so far. */
  int connectionCount() {
    return connections.size();
  }

  /**
   * Waits until every connection accepted from the {@code from}-th on is closed or idle after a complete
   * response, and returns those that are not (empty when all are).
   */
  List<String> awaitSettled(int from, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (changes) {
      while (true) {
        List<String> busy = new ArrayList<>();
        for (Connection c : connections.subList(Math.min(from, connections.size()), connections.size())) {
          if (!c.settled()) {
            busy.add(c.toString());
          }
        }
        long left = deadline - System.nanoTime();
        if (busy.isEmpty() || left <= 0) {
          return busy;
        }
        changes.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  /** The connections accepted from the {@code from}-th on that are still open (idle or not). */
  List<String> openConnections(int from) {
    List<String> open = new ArrayList<>();
    for (Connection c : connections.subList(Math.min(from, connections.size()), connections.size())) {
      if (c.state != State.CLOSED) {
        open.add(c.toString());
      }
    }
    return open;
  }

  /** Waits until every connection accepted from the {@code from}-th on is closed; returns those still open. */
  List<String> awaitAllClosed(int from, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (changes) {
      while (true) {
        List<String> open = openConnections(from);
        long left = deadline - System.nanoTime();
        if (open.isEmpty() || left <= 0) {
          return open;
        }
        changes.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    for (Connection c : connections) {
      c.closeQuietly();
    }
  }

  private void changed() {
    synchronized (changes) {
      changes.notifyAll();
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      Connection c = new Connection(socket, connectionIds.incrementAndGet());
      connections.add(c);
      c.start();
      changed();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Scripts

  /** One step of a response body. */
  private interface Step {
    /** Runs the step; returns false when the peer closed the connection meanwhile. */
    boolean run(Exchange exchange, OutputStream out) throws IOException, InterruptedException;
  }

  /** What the upstream does with one request. Build with the static factories, then chain the steps. */
  static final class Script {
    private final List<Step> steps = new ArrayList<>();
    private Ending ending = Ending.CLEAN;

    private Script() {}

    /** A response that starts with {@code head} (status line and headers, written as given). */
    static Script raw(String head) {
      return new Script().write(head.getBytes(ISO_8859_1));
    }

    /** The head of a {@code 200 text/event-stream} response with a chunked body. */
    static final String EVENT_STREAM_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n";

    /** {@code 200 text/event-stream} with a chunked body; the steps write the chunks (see {@link Chunked}). */
    static Script eventStream() {
      return raw(EVENT_STREAM_HEAD);
    }

    /** A response whose head is never sent: the script's steps run first, then its ending. */
    static Script noResponse() {
      return new Script();
    }

    /** A complete JSON response with a Content-Length. */
    static Script json(int status, String body) {
      byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      return raw("HTTP/1.1 " + status + " Status\r\nContent-Type: application/json\r\nContent-Length: "
          + bytes.length + "\r\n\r\n").write(bytes);
    }

    /** Writes {@code bytes} as they are, in one write. */
    Script write(byte[] bytes) {
      steps.add((exchange, out) -> exchange.write(out, bytes, 0, bytes.length));
      return this;
    }

    /** Writes {@code bytes} in pieces of {@code min..max} bytes, pausing {@code pause} after each piece. */
    Script drip(byte[] bytes, int min, int max, Duration pause, java.util.Random random) {
      List<int[]> pieces = new ArrayList<>();
      for (int i = 0; i < bytes.length; ) {
        int n = Math.min(bytes.length - i, min + random.nextInt(max - min + 1));
        pieces.add(new int[] {i, n});
        i += n;
      }
      steps.add((exchange, out) -> {
        for (int[] p : pieces) {
          if (!exchange.write(out, bytes, p[0], p[1]) || !exchange.pause(pause)) {
            return false;
          }
        }
        return true;
      });
      return this;
    }

    /** Writes each piece the iterator gives, in order, as fast as the connection takes them. */
    Script generate(Iterator<byte[]> pieces) {
      steps.add((exchange, out) -> {
        while (pieces.hasNext()) {
          byte[] piece = pieces.next();
          if (!exchange.write(out, piece, 0, piece.length)) {
            return false;
          }
        }
        return true;
      });
      return this;
    }

    /** Pauses (pacing of the upstream's own behaviour); ends early when the peer closes the connection. */
    Script pause(Duration pause) {
      steps.add((exchange, out) -> exchange.pause(pause));
      return this;
    }

    /** Waits until the test opens {@code gate} (or the peer closes the connection). */
    Script await(CountDownLatch gate) {
      steps.add((exchange, out) -> exchange.await(gate));
      return this;
    }

    /** Tells the test that every step before this one has run. */
    Script signal(CountDownLatch latch) {
      steps.add((exchange, out) -> {
        latch.countDown();
        return true;
      });
      return this;
    }

    /** Writes {@code bytes} every {@code interval} until the peer closes the connection. */
    Script repeatUntilPeerCloses(byte[] bytes, Duration interval) {
      steps.add((exchange, out) -> {
        long deadline = System.nanoTime() + CAP.toNanos();
        while (System.nanoTime() < deadline) {
          if (!exchange.write(out, bytes, 0, bytes.length) || !exchange.pause(interval)) {
            return false;
          }
        }
        return true;
      });
      return this;
    }

    /** How the response ends after the steps. */
    Script then(Ending ending) {
      this.ending = ending;
      return this;
    }
  }

  /** Encodes body bytes as HTTP/1.1 chunks. */
  static final class Chunked {
    private Chunked() {}

    /** One chunk holding {@code data}. */
    static byte[] chunk(byte[] data) {
      return chunk(data, 0, data.length);
    }

    static byte[] chunk(byte[] data, int offset, int length) {
      byte[] size = (Integer.toHexString(length) + "\r\n").getBytes(US_ASCII);
      byte[] out = new byte[size.length + length + 2];
      System.arraycopy(size, 0, out, 0, size.length);
      System.arraycopy(data, offset, out, size.length, length);
      out[out.length - 2] = '\r';
      out[out.length - 1] = '\n';
      return out;
    }

    /** The terminating chunk. */
    static byte[] end() {
      return "0\r\n\r\n".getBytes(US_ASCII);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connections and exchanges

  private enum State { AWAITING_REQUEST, RESPONDING, CLOSED }

  /** One request on a connection and what the upstream did with it. */
  static final class Exchange {
    final String id;
    final Connection connection;
    final Map<String, String> requestHeaders;
    final byte[] requestBody;
    /** Response bytes written so far (head included), as the kernel took them. */
    final AtomicLong written = new AtomicLong();
    private final CountDownLatch over = new CountDownLatch(1);
    private volatile Outcome outcome;

    Exchange(String id, Connection connection, Map<String, String> headers, byte[] body) {
      this.id = id;
      this.connection = connection;
      this.requestHeaders = headers;
      this.requestBody = body;
    }

    /** How the exchange ended; waits for it. */
    Outcome awaitOutcome(Duration timeout) throws InterruptedException {
      if (!over.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("upstream exchange " + id + " still running after " + timeout + ": " + connection);
      }
      return outcome;
    }

    /**
     * Waits until the peer closed the connection; returns {@link System#nanoTime()} when the upstream noticed.
     */
    long awaitPeerClosed(Duration timeout) throws InterruptedException {
      if (!connection.peerClosed.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("the proxy did not close upstream connection " + connection + " within " + timeout);
      }
      long at = connection.peerClosedAt();
      if (at == 0) {
        throw new AssertionError("the upstream closed " + connection + " itself before the proxy did");
      }
      return at;
    }

    private boolean write(OutputStream out, byte[] bytes, int offset, int length) {
      if (connection.peerClosed.getCount() == 0) {
        return false;
      }
      try {
        out.write(bytes, offset, length);
        out.flush();
        written.addAndGet(length);
        return true;
      } catch (IOException e) {
        connection.peerWentAway();
        return false;
      }
    }

    private boolean pause(Duration pause) throws InterruptedException {
      return !connection.peerClosed.await(pause.toNanos(), TimeUnit.NANOSECONDS);
    }

    private boolean await(CountDownLatch gate) throws InterruptedException {
      long deadline = System.nanoTime() + CAP.toNanos();
      while (System.nanoTime() < deadline) {
        if (gate.await(20, TimeUnit.MILLISECONDS)) {
          return true;
        }
        if (connection.peerClosed.getCount() == 0) {
          return false;
        }
      }
      return true;
    }

    @Override
    public String toString() {
      return "exchange " + id + " (" + written.get() + " bytes written, " + outcome + ")";
    }
  }

  /** One accepted connection: a reader that watches for the peer closing it, and a thread that answers. */
  final class Connection {
    final int id;
    private final Socket socket;
    private final BlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    final CountDownLatch peerClosed = new CountDownLatch(1);
    private long peerClosedAt;
    private boolean closingOurselves;
    private volatile State state = State.AWAITING_REQUEST;
    private volatile int responses;
    private volatile int cleanResponses;
    private volatile String lastScript = "";

    Connection(Socket socket, int id) {
      this.socket = socket;
      this.id = id;
    }

    void start() {
      Thread reader = new Thread(this::readLoop, "fault-upstream-read-" + id);
      reader.setDaemon(true);
      reader.start();
      Thread handler = new Thread(this::serve, "fault-upstream-serve-" + id);
      handler.setDaemon(true);
      handler.start();
    }

    synchronized long peerClosedAt() {
      return peerClosedAt;
    }

    /** Closed, or idle after complete responses only. */
    boolean settled() {
      return state == State.CLOSED || (state == State.AWAITING_REQUEST && responses > 0 && responses == cleanResponses);
    }

    private void readLoop() {
      byte[] buffer = new byte[8192];
      try {
        InputStream in = socket.getInputStream();
        while (true) {
          int n = in.read(buffer);
          if (n < 0) {
            break;
          }
          received.add(java.util.Arrays.copyOf(buffer, n));
        }
      } catch (IOException e) {
        // reset by the peer, or closed by us
      }
      peerWentAway();
      received.add(new byte[0]); // end of input
    }

    /** The peer closed the connection (a read ended or a write failed), unless it was us who closed it. */
    private void peerWentAway() {
      synchronized (this) {
        if (!closingOurselves && peerClosedAt == 0) {
          peerClosedAt = System.nanoTime();
        }
      }
      peerClosed.countDown();
      changed();
    }

    private void serve() {
      try {
        socket.setTcpNoDelay(true);
        OutputStream out = socket.getOutputStream();
        RequestReader in = new RequestReader(received);
        while (!closed) {
          Request request = in.next();
          if (request == null) {
            return;
          }
          Matcher m = SCRIPT_ID.matcher(request.target);
          Script script = m.find() ? scripts.get(m.group(1)) : null;
          String id = script == null ? "unknown:" + request.target : m.group(1);
          Exchange exchange = new Exchange(id, this, request.headers, request.body);
          lastScript = id;
          state = State.RESPONDING;
          exchanges.put(id, exchange);
          changed();
          boolean keepOpen = false;
          try {
            keepOpen = respond(exchange, script, out);
          } finally {
            responses++;
            if (keepOpen) {
              cleanResponses++;
              state = State.AWAITING_REQUEST;
            }
            exchange.over.countDown();
            changed();
          }
          if (!keepOpen) {
            return;
          }
        }
      } catch (IOException | InterruptedException e) {
        // the connection is gone; the finally below records it
      } finally {
        closeQuietly();
        state = State.CLOSED;
        changed();
      }
    }

    /** Runs the script; returns whether the connection can carry another request. */
    private boolean respond(Exchange exchange, Script script, OutputStream out)
        throws IOException, InterruptedException {
      if (script == null) {
        byte[] notFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".getBytes(US_ASCII);
        exchange.write(out, notFound, 0, notFound.length);
        exchange.outcome = Outcome.SCRIPTED;
        return true;
      }
      for (Step step : script.steps) {
        if (!step.run(exchange, out)) {
          exchange.outcome = Outcome.PEER_CLOSED;
          return false;
        }
      }
      switch (script.ending) {
        case CLEAN:
          exchange.outcome = Outcome.SCRIPTED;
          return peerClosed.getCount() != 0;
        case FIN:
          exchange.outcome = Outcome.SCRIPTED;
          socket.shutdownOutput();
          // The peer's side stays open until it reads the FIN and closes; close ours once it has.
          peerClosed.await(CAP.toMillis(), TimeUnit.MILLISECONDS);
          return false;
        case RESET:
          exchange.outcome = Outcome.SCRIPTED;
          socket.setSoLinger(true, 0);
          closeQuietly();
          return false;
        case STALL:
        default:
          boolean peerWentAway = peerClosed.await(CAP.toMillis(), TimeUnit.MILLISECONDS);
          exchange.outcome = peerWentAway ? Outcome.PEER_CLOSED : Outcome.SCRIPTED;
          return false;
      }
    }

    void closeQuietly() {
      synchronized (this) {
        if (peerClosedAt == 0) {
          closingOurselves = true;
        }
      }
      try {
        socket.close();
      } catch (IOException e) {
        // closing anyway
      }
    }

    @Override
    public String toString() {
      return "connection " + id + " [" + state + ", " + responses + " responses, last " + lastScript + "]";
    }
  }

  /** A request read from the bytes the connection's reader queued. */
  private record Request(String target, Map<String, String> headers, byte[] body) {}

  /** Parses requests (head and Content-Length body) out of the queue of received bytes. */
  private static final class RequestReader {
    private final BlockingQueue<byte[]> queue;
    private byte[] current = new byte[0];
    private int pos;
    private boolean eof;

    RequestReader(BlockingQueue<byte[]> queue) {
      this.queue = queue;
    }

    /** The next request, or null when the peer closed the connection. */
    Request next() throws InterruptedException, IOException {
      String requestLine;
      do {
        requestLine = line();
        if (requestLine == null) {
          return null;
        }
      } while (requestLine.isEmpty());
      Map<String, String> headers = new LinkedHashMap<>();
      String line;
      while ((line = line()) != null && !line.isEmpty()) {
        int colon = line.indexOf(':');
        if (colon > 0) {
          headers.put(line.substring(0, colon).strip().toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
        }
      }
      if (line == null) {
        return null;
      }
      int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
      ByteArrayOutputStream body = new ByteArrayOutputStream(length);
      for (int i = 0; i < length; i++) {
        int b = read();
        if (b < 0) {
          return null;
        }
        body.write(b);
      }
      String[] parts = requestLine.split(" ");
      return new Request(parts.length > 1 ? parts[1] : "", headers, body.toByteArray());
    }

    private String line() throws InterruptedException {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      while (true) {
        int b = read();
        if (b < 0) {
          return null;
        }
        if (b == '\n') {
          String s = line.toString(ISO_8859_1);
          return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
        line.write(b);
      }
    }

    private int read() throws InterruptedException {
      while (pos == current.length) {
        if (eof) {
          return -1;
        }
        byte[] next = queue.poll(CAP.toMillis(), TimeUnit.MILLISECONDS);
        if (next == null || next.length == 0) {
          eof = true;
          return -1;
        }
        current = next;
        pos = 0;
      }
      return current[pos++] & 0xff;
    }
  }
}
