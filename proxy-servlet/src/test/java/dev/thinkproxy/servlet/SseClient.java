package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * An HTTP/1.1 client on a raw socket, one request per connection, kept alive so that the container has to
 * delimit the body (a body that ends with the connection could not tell a clean end from a cut): it decodes it
 * (chunked, Content-Length or until close) as it arrives and records whether a chunked body ended with its
 * terminating chunk, which is how a clean end differs from a cut connection. It can read slowly, and go away with
 * a FIN ({@link #close()}) or an RST ({@link #reset()}).
 */
final class SseClient implements AutoCloseable {
  /** What a response came to. */
  record Result(int status, Map<String, String> headers, byte[] body, boolean terminated) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    String text() {
      return new String(body, UTF_8);
    }
  }

  private enum Body { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILER, LENGTH, UNTIL_CLOSE, COMPLETE }

  private final Socket socket;
  private final InputStream in;
  private final byte[] buffer = new byte[16 * 1024];
  private final ByteArrayOutputStream body = new ByteArrayOutputStream();
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private Consumer<byte[]> streamingSink;
  private long bodyBytes;

  private int status = -1;
  private final Map<String, String> headers = new LinkedHashMap<>();
  private Body state;
  private long remaining;
  private boolean ended;
  private String endedBy;

  private SseClient(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
  }

  /**
   * Sends a POST of {@code body} to {@code path} with the given extra headers.
   *
   * @param receiveBuffer the socket's receive buffer size, or 0 for the system's (autotuned) default
   */
  static SseClient post(int port, String path, Map<String, String> extraHeaders, byte[] body, int receiveBuffer)
      throws IOException {
    Socket socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.connect(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port), 10_000);
    StringBuilder head = new StringBuilder("POST " + path + " HTTP/1.1\r\n")
        .append("Host: 127.0.0.1:").append(port).append("\r\n")
        .append("Authorization: Bearer sk-test\r\n")
        .append("Content-Type: application/json\r\n")
        .append("Content-Length: ").append(body.length).append("\r\n");
    extraHeaders.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
    head.append("\r\n");
    OutputStream out = socket.getOutputStream();
    out.write(head.toString().getBytes(UTF_8));
    out.write(body);
    out.flush();
    return new SseClient(socket);
  }

  /** Decoded body bytes go to {@code sink} as they arrive instead of being kept; for very long streams. */
  SseClient streamTo(Consumer<byte[]> sink) {
    this.streamingSink = sink;
    return this;
  }

  /** Reads until the status line and headers are in; fails if they do not arrive within {@code timeout}. */
  int awaitHead(Duration timeout) throws IOException {
    if (!readUntil(c -> c.status >= 0, timeout)) {
      throw new AssertionError("no response head within " + timeout + (ended ? " (" + endedBy + ")" : ""));
    }
    return status;
  }

  /**
   * Reads until {@code condition} holds, the response ends, or {@code timeout} passes.
   *
   * @return whether the condition holds
   */
  boolean readUntil(Predicate<SseClient> condition, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.test(this)) {
      if (ended) {
        return false;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      readOnce(buffer.length, left);
    }
    return true;
  }

  /** Reads until the response ends; fails when it has not ended within {@code timeout}. */
  Result readToEnd(Duration timeout) throws IOException {
    if (!readUntil(c -> false, timeout) && !ended) {
      throw new AssertionError("the response did not end within " + timeout + "; received so far: "
          + SseEvents.show(body.toByteArray()));
    }
    return result();
  }

  /**
   * Reads for {@code duration} at about {@code bytesPerSecond}: a client on a slow link (pacing of the client's
   * own behaviour, not synchronisation).
   */
  void readSlowly(int bytesPerSecond, Duration duration) throws IOException, InterruptedException {
    long end = System.nanoTime() + duration.toNanos();
    while (!ended && System.nanoTime() < end) {
      long secondEnd = System.nanoTime() + 1_000_000_000L;
      int budget = bytesPerSecond;
      while (budget > 0 && !ended && System.nanoTime() < secondEnd) {
        budget -= readOnce(Math.min(budget, buffer.length), secondEnd - System.nanoTime());
      }
      long rest = Math.min(secondEnd, end) - System.nanoTime();
      if (rest > 0) {
        Thread.sleep(rest / 1_000_000, (int) (rest % 1_000_000));
      }
    }
  }

  /** The response so far; complete once it has ended. */
  Result result() {
    return new Result(status, Map.copyOf(headers), body.toByteArray(), state == Body.COMPLETE && isChunked());
  }

  /** Decoded body bytes received so far, kept or streamed. */
  long bodyBytes() {
    return bodyBytes;
  }

  byte[] bodySoFar() {
    return body.toByteArray();
  }

  /** What arrived so far, for failure messages. */
  String describe() {
    return (status < 0 ? "no response head" : "status " + status) + ", body " + SseEvents.show(body.toByteArray())
        + (ended ? ", connection " + endedBy : ", connection open");
  }

  /** Closes the connection normally (FIN). */
  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** Drops the connection with an RST (SO_LINGER 0). */
  void reset() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  private boolean isChunked() {
    String te = headers.get("transfer-encoding");
    return te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
  }

  /** One read of at most {@code max} bytes; returns how many arrived (0 on timeout). */
  private int readOnce(int max, long timeoutNanos) throws IOException {
    socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeoutNanos / 1_000_000)));
    int n;
    try {
      n = in.read(buffer, 0, max);
    } catch (SocketTimeoutException e) {
      return 0;
    } catch (IOException e) {
      end("failed: " + e);
      return 0;
    }
    if (n < 0) {
      end("closed");
      return 0;
    }
    for (int i = 0; i < n; ) {
      i = consume(buffer, i, n);
    }
    return n;
  }

  private void end(String how) {
    ended = true;
    endedBy = how;
    if (state == Body.UNTIL_CLOSE) {
      state = Body.COMPLETE;
    }
  }

  /** Consumes bytes from {@code i}; returns where it stopped. */
  private int consume(byte[] b, int i, int n) {
    if (status < 0) {
      byte c = b[i++];
      line.write(c);
      byte[] h = line.toByteArray();
      int len = h.length;
      if (len >= 4 && h[len - 4] == '\r' && h[len - 3] == '\n' && h[len - 2] == '\r' && h[len - 1] == '\n') {
        parseHead(new String(h, 0, len - 4, ISO_8859_1));
        line.reset();
      }
      return i;
    }
    switch (state) {
      case CHUNK_SIZE, TRAILER -> {
        byte c = b[i++];
        if (c != '\n') {
          line.write(c);
          return i;
        }
        String l = line.toString(ISO_8859_1).strip();
        line.reset();
        if (state == Body.TRAILER) {
          if (l.isEmpty()) {
            state = Body.COMPLETE;
            ended = true;
            endedBy = "complete";
          }
          return i;
        }
        int semicolon = l.indexOf(';');
        remaining = Long.parseLong(semicolon < 0 ? l : l.substring(0, semicolon).strip(), 16);
        state = remaining == 0 ? Body.TRAILER : Body.CHUNK_DATA;
        return i;
      }
      case CHUNK_DATA, LENGTH, UNTIL_CLOSE -> {
        int take = (int) Math.min(n - i, state == Body.UNTIL_CLOSE ? Long.MAX_VALUE : remaining);
        deliver(b, i, take);
        remaining -= take;
        i += take;
        if (remaining == 0 && state == Body.CHUNK_DATA) {
          state = Body.CHUNK_DATA_END;
        } else if (remaining == 0 && state == Body.LENGTH) {
          state = Body.COMPLETE;
          ended = true;
          endedBy = "complete";
        }
        return i;
      }
      case CHUNK_DATA_END -> {
        if (b[i++] == '\n') {
          state = Body.CHUNK_SIZE;
        }
        return i;
      }
      case COMPLETE -> {
        throw new AssertionError("bytes after the end of the response: " + SseEvents.show(
            java.util.Arrays.copyOfRange(b, i, n)));
      }
      default -> throw new IllegalStateException(state.toString());
    }
  }

  private void deliver(byte[] b, int offset, int length) {
    if (length == 0) {
      return;
    }
    bodyBytes += length;
    if (streamingSink != null) {
      streamingSink.accept(java.util.Arrays.copyOfRange(b, offset, offset + length));
    } else {
      body.write(b, offset, length);
    }
  }

  private void parseHead(String head) {
    String[] lines = head.split("\r\n");
    status = Integer.parseInt(lines[0].split(" ")[1]);
    for (int k = 1; k < lines.length; k++) {
      int colon = lines[k].indexOf(':');
      headers.merge(lines[k].substring(0, colon).strip().toLowerCase(Locale.ROOT),
          lines[k].substring(colon + 1).strip(), (a, c) -> a + ", " + c);
    }
    if (isChunked()) {
      state = Body.CHUNK_SIZE;
    } else if (headers.containsKey("content-length")) {
      remaining = Long.parseLong(headers.get("content-length"));
      state = remaining == 0 ? Body.COMPLETE : Body.LENGTH;
      if (remaining == 0) {
        ended = true;
        endedBy = "complete";
      }
    } else {
      state = Body.UNTIL_CLOSE;
    }
  }

  /** Headers for a request in {@code mode}. */
  static Map<String, String> modeHeaders(StreamCheck.Mode mode) {
    Map<String, String> h = new LinkedHashMap<>();
    if (mode.header != null) {
      h.put("X-Thinkproxy-Mode", mode.header);
    }
    return h;
  }

  /** A chat request body asking for a stream. */
  static byte[] streamRequest() {
    return "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(UTF_8);
  }
}
