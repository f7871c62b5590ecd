package dev.thinkproxy.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The upstream of {@link CancelRun}: a blocking loopback server with one platform thread per connection, so the
 * moment the proxy closes its side is seen by a thread parked in {@code read} and timed on the same clock as the
 * client. Each request names its stream in the path ({@code /s/ID/v1/chat/completions}); the stream must have
 * been {@linkplain #expect registered} with its behaviour first.
 */
final class CancelUpstream implements AutoCloseable {
  /** What the upstream does once it has read a request. */
  enum Behaviour {
    /** Headers, then one event every tick until the proxy leaves. */
    TICKING,
    /** Headers and one event, then silence with the socket open. */
    ONE_EVENT,
    /** Nothing at all: the proxy is still waiting for the response headers. */
    NO_ANSWER
  }

  /** One stream as the upstream sees it; the futures complete on the connection's thread. */
  static final class Stream {
    private final Behaviour behaviour;
    private final CompletableFuture<Void> requestRead = new CompletableFuture<>();
    private final CompletableFuture<Long> closedAt = new CompletableFuture<>();

    private Stream(Behaviour behaviour) {
      this.behaviour = behaviour;
    }

    /** Completes when the whole request (head and body) has arrived. */
    CompletableFuture<Void> requestRead() {
      return requestRead;
    }

    /** {@link System#nanoTime()} when the upstream saw the proxy's end of the connection (EOF or an error). */
    CompletableFuture<Long> closedAt() {
      return closedAt;
    }
  }

  static final String EVENT = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
      + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tick\"},\"finish_reason\":null}]}\n\n";
  private static final byte[] EVENT_CHUNK = chunk(EVENT);
  private static final byte[] STREAM_HEAD = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      + "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NOT_FOUND = ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      .getBytes(StandardCharsets.US_ASCII);
  private static final int HEAD_LIMIT = 64 * 1024;
  private static final String PREFIX = "/s/";

  private final ServerSocket server;
  private final int tickMillis;
  private final Map<String, Stream> streams = new ConcurrentHashMap<>();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closing;

  private CancelUpstream(ServerSocket server, Duration tick) {
    this.server = server;
    this.tickMillis = (int) Math.max(1, tick.toMillis());
  }

  /** Listens on a free port of 127.0.0.1; {@code tick} paces {@link Behaviour#TICKING} streams. */
  static CancelUpstream start(Duration tick) throws IOException {
    ServerSocket s = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
    CancelUpstream u = new CancelUpstream(s, tick);
    Thread acceptor = new Thread(u::acceptLoop, "cancel-upstream-accept");
    acceptor.setDaemon(true);
    acceptor.start();
    return u;
  }

  int port() {
    return server.getLocalPort();
  }

  /** The path of stream {@code id}, under which the proxy's request arrives. */
  static String path(String id) {
    return PREFIX + id + "/v1/chat/completions";
  }

  /** The stream id in a request line such as {@code POST /s/ID/v1/chat/completions HTTP/1.1}, or null. */
  static String streamId(String requestLine) {
    String[] parts = requestLine.split(" ");
    if (parts.length != 3 || !parts[1].startsWith(PREFIX)) {
      return null;
    }
    int end = parts[1].indexOf('/', PREFIX.length());
    return end <= PREFIX.length() ? null : parts[1].substring(PREFIX.length(), end);
  }

  /** Registers stream {@code id}; call before the request can arrive. */
  Stream expect(String id, Behaviour behaviour) {
    Stream s = new Stream(behaviour);
    if (streams.putIfAbsent(id, s) != null) {
      throw new IllegalStateException("stream id in use: " + id);
    }
    return s;
  }

  void forget(String id) {
    streams.remove(id);
  }

  private void acceptLoop() {
    while (!closing) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return;
      }
      open.add(s);
      Thread t = new Thread(() -> serve(s), "cancel-upstream-" + s.getPort());
      t.setDaemon(true);
      t.start();
    }
  }

  private void serve(Socket socket) {
    Stream stream = null;
    try (socket) {
      socket.setTcpNoDelay(true);
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      String requestLine = readRequest(in);
      String id = requestLine == null ? null : streamId(requestLine);
      stream = id == null ? null : streams.get(id);
      if (stream == null) {
        out.write(NOT_FOUND);
        return;
      }
      stream.requestRead.complete(null);
      switch (stream.behaviour) {
        case TICKING -> tick(socket, in, out);
        case ONE_EVENT -> {
          out.write(STREAM_HEAD);
          out.write(EVENT_CHUNK);
          out.flush();
          awaitEnd(in);
        }
        case NO_ANSWER -> awaitEnd(in);
        default -> throw new IllegalStateException(stream.behaviour.toString());
      }
    } catch (IOException e) {
      // The proxy reset the connection: that is its end too (taken below).
    } finally {
      open.remove(socket);
      if (stream != null) {
        if (closing) {
          stream.closedAt.completeExceptionally(new IOException("upstream shut down"));
        } else {
          stream.closedAt.complete(System.nanoTime());
        }
      }
    }
  }

  /** Reads the head and its Content-Length body; returns the request line, or null on EOF before a head. */
  private static String readRequest(InputStream in) throws IOException {
    HttpHead.Reader reader = new HttpHead.Reader(HEAD_LIMIT);
    byte[] buf = new byte[8192];
    long bodyLeft = -1;
    while (true) {
      int n = in.read(buf);
      if (n < 0) {
        return null;
      }
      int used = 0;
      if (reader.head() == null) {
        used = reader.feed(buf, 0, n);
        if (reader.head() == null) {
          continue;
        }
        bodyLeft = Math.max(0, reader.head().contentLength());
      }
      bodyLeft -= n - used;
      if (bodyLeft <= 0) {
        return reader.head().startLine();
      }
    }
  }

  /**
   * Sends an event every tick and reads in between, so a FIN is seen as soon as it arrives, not at the next write.
   */
  private void tick(Socket socket, InputStream in, OutputStream out) throws IOException {
    out.write(STREAM_HEAD);
    byte[] sink = new byte[4096];
    while (true) {
      out.write(EVENT_CHUNK);
      out.flush();
      long next = System.nanoTime() + tickMillis * 1_000_000L;
      for (long left = tickMillis; left > 0; left = (next - System.nanoTime()) / 1_000_000L) {
        socket.setSoTimeout((int) left);
        try {
          if (in.read(sink) < 0) {
            return;
          }
        } catch (SocketTimeoutException e) {
          break;
        }
      }
    }
  }

  private static void awaitEnd(InputStream in) throws IOException {
    byte[] sink = new byte[4096];
    while (in.read(sink) >= 0) {
      // The proxy sends nothing after its request; anything else is ignored.
    }
  }

  private static byte[] chunk(String payload) {
    byte[] p = payload.getBytes(StandardCharsets.UTF_8);
    byte[] head = (Integer.toHexString(p.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] c = new byte[head.length + p.length + 2];
    System.arraycopy(head, 0, c, 0, head.length);
    System.arraycopy(p, 0, c, head.length, p.length);
    c[c.length - 2] = '\r';
    c[c.length - 1] = '\n';
    return c;
  }

  /** Closes the listening socket and every connection; streams still open end exceptionally. */
  @Override
  public void close() {
    closing = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    for (Stream s : streams.values()) {
      s.closedAt.completeExceptionally(new IOException("upstream shut down"));
    }
  }
}
