package dev.thinkproxy.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One client of {@link CancelRun}: opens a stream through the proxy on a raw socket and leaves at a set moment. */
final class CancelClient {
  /** When the client leaves. */
  enum Moment {
    /** After the first event with the upstream's {@code tick} content. */
    FIRST_EVENT,
    /** As soon as the upstream has the whole request, before any response byte. */
    REQUEST_AT_UPSTREAM
  }

  static final String BODY = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  private static final int CONNECT_TIMEOUT_MS = 5000;
  private static final int MAX_EVENT_BYTES = 1 << 20;

  private CancelClient() {}

  /**
   * Sends a streaming chat request for {@code path} to the proxy, waits at most {@code wait} for {@code moment},
   * then closes the socket: a FIN, or with {@code reset} a RST (linger 0). Returns {@link System#nanoTime()} taken
   * just before the close.
   *
   * @throws IOException when the moment does not come: an error status, a broken connection or a timeout
   */
  static long leave(InetSocketAddress proxy, String path, Moment moment, boolean reset, CancelUpstream.Stream stream,
      Duration wait) throws IOException, InterruptedException {
    try (Socket socket = new Socket()) {
      socket.setTcpNoDelay(true);
      socket.connect(proxy, CONNECT_TIMEOUT_MS);
      socket.setSoTimeout((int) Math.max(1, wait.toMillis()));
      OutputStream out = socket.getOutputStream();
      out.write(request(proxy, path));
      out.flush();
      InputStream in = socket.getInputStream();
      if (moment == Moment.FIRST_EVENT) {
        awaitTick(in);
      } else {
        awaitUpstream(stream, wait);
      }
      if (reset) {
        socket.setSoLinger(true, 0);
      } else {
        // Unread bytes at close make the kernel send a RST instead of the FIN this case is about.
        byte[] rest = new byte[8192];
        while (in.available() > 0 && in.read(rest) > 0) {
          // dropped
        }
      }
      long t0 = System.nanoTime();
      socket.close();
      return t0;
    }
  }

  static byte[] request(InetSocketAddress proxy, String path) {
    byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
    String head = "POST " + path + " HTTP/1.1\r\n"
        + "Host: " + proxy.getHostString() + ":" + proxy.getPort() + "\r\n"
        + "Content-Type: application/json\r\n"
        + "Authorization: Bearer test\r\n"
        + "Content-Length: " + body.length + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[h.length + body.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(body, 0, all, h.length, body.length);
    return all;
  }

  /** Reads the response until an event carries the upstream's {@code tick}; the socket's timeout bounds each read. */
  private static void awaitTick(InputStream in) throws IOException {
    boolean[] seen = {false};
    ResponseParser parser = new ResponseParser(MAX_EVENT_BYTES, new ResponseParser.Listener() {
      @Override
      public void head(int status) {}

      @Override
      public void event(byte[] data, int len) {
        if (new String(data, 0, len, StandardCharsets.UTF_8).contains("tick")) {
          seen[0] = true;
        }
      }
    });
    byte[] buf = new byte[8192];
    while (!seen[0]) {
      int n = in.read(buf);
      if (n < 0) {
        parser.endOfInput();
        throw new IOException(describe(parser, "closed before the first event"));
      }
      if (parser.feed(buf, 0, n) && !seen[0]) {
        throw new IOException(describe(parser, "response ended before the first event"));
      }
    }
  }

  private static String describe(ResponseParser parser, String what) {
    if (!parser.headComplete()) {
      return "proxy " + what + ", before the response head";
    }
    return parser.status() == 200 ? "proxy " + what : "HTTP " + parser.status() + ": " + parser.snippet();
  }

  private static void awaitUpstream(CancelUpstream.Stream stream, Duration wait) throws IOException,
      InterruptedException {
    try {
      stream.requestRead().get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IOException("the request did not reach the upstream within " + wait.toMillis() + " ms");
    } catch (ExecutionException e) {
      throw new IOException("upstream failed: " + e.getCause(), e.getCause());
    }
  }
}
