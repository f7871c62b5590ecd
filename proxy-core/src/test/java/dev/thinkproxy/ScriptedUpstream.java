package dev.thinkproxy;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A raw-socket upstream on 127.0.0.1 for faults MockWebServer cannot script: it reads one request per connection,
 * hands the socket to the test's script, and then reports when the proxy closed the connection.
 */
final class ScriptedUpstream implements AutoCloseable {
  /** What the upstream does after reading the request. */
  interface Script {
    void run(Socket socket, OutputStream out) throws Exception;
  }

  private final ServerSocket server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  /** Counts down when the proxy has closed the connection of the (first) request. */
  final CountDownLatch peerClosed = new CountDownLatch(1);

  ScriptedUpstream(Script script) throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    threads.execute(() -> {
      while (!server.isClosed()) {
        try {
          Socket socket = server.accept();
          threads.execute(() -> serve(socket, script));
        } catch (IOException e) {
          return;
        }
      }
    });
  }

  int port() {
    return server.getLocalPort();
  }

  /** A proxy builder whose target policy allows this upstream and nothing else. */
  ChatCompletionProxy.Builder proxyBuilder() {
    return ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + port()).build());
  }

  /** A streaming chat completion request for this upstream, in the proxy's path form. */
  ProxyRequest streamingChatRequest() {
    return ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + port() + "/v1/chat/completions")
        .addHeader("Content-Type", "application/json")
        .body("{\"model\":\"m\",\"stream\":true}".getBytes(UTF_8))
        .build();
  }

  private void serve(Socket socket, Script script) {
    try (socket) {
      InputStream in = socket.getInputStream();
      readRequest(in);
      script.run(socket, socket.getOutputStream());
      // The script is done writing; wait for the proxy to close its side.
      while (in.read() != -1) {
        // a request body the proxy sends later, or nothing
      }
    } catch (Exception e) {
      // a reset from the proxy counts as closed too
    } finally {
      peerClosed.countDown();
    }
  }

  private static void readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b == -1) {
        throw new IOException("request ended early");
      }
      head.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    int length = 0;
    for (String line : head.toString(ISO_8859_1).split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).strip());
      }
    }
    in.readNBytes(length);
  }

  /** Stays silent until the proxy closes the connection (the read then ends or fails). */
  static void stallUntilClosed(Socket socket) {
    try {
      while (socket.getInputStream().read() != -1) {
        // nothing is expected from the proxy
      }
    } catch (IOException e) {
      // closed by a reset
    }
  }

  /** The head of a chunked event-stream response. */
  static void eventStreamHead(OutputStream out) throws IOException {
    out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        .getBytes(ISO_8859_1));
    out.flush();
  }

  /** One chunk of a chunked body holding {@code text}. */
  static void chunk(OutputStream out, String text) throws IOException {
    byte[] bytes = text.getBytes(UTF_8);
    out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(ISO_8859_1));
    out.write(bytes);
    out.write("\r\n".getBytes(ISO_8859_1));
    out.flush();
  }

  /** The last chunk: the body ends cleanly. */
  static void endChunks(OutputStream out) throws IOException {
    out.write("0\r\n\r\n".getBytes(ISO_8859_1));
    out.flush();
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
  }
}
