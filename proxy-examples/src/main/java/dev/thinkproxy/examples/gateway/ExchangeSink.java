package dev.thinkproxy.examples.gateway;

import com.sun.net.httpserver.HttpExchange;
import dev.thinkproxy.ProxyCall;
import dev.thinkproxy.ResponseSink;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Writes the proxy's response to a JDK {@link HttpExchange}: the status and headers, then the body, chunked unless
 * the proxy gives its length, sent to the client at every {@link #flush()}.
 *
 * <p>The handler thread waits in {@link #awaitEnd} until the response has ended. The JDK server has no way to drop
 * a connection other than a handler that throws, so an aborted response makes {@code awaitEnd} throw: the server
 * then closes the connection without the last chunk, and the client sees a cut response rather than a complete
 * short one.
 */
final class ExchangeSink implements ResponseSink {
  private final HttpExchange exchange;
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private OutputStream body;

  ExchangeSink(HttpExchange exchange) {
    this.exchange = exchange;
  }

  @Override
  public void start(int status, List<Map.Entry<String, String>> headers) throws IOException {
    long length = 0; // the JDK server's "unknown length": chunked
    for (Map.Entry<String, String> h : headers) {
      if (h.getKey().equalsIgnoreCase("Content-Length")) {
        // The server writes this header itself from the length argument, where -1 means no body.
        long declared = Long.parseLong(h.getValue());
        length = declared == 0 ? -1 : declared;
      } else {
        exchange.getResponseHeaders().add(h.getKey(), h.getValue());
      }
    }
    exchange.sendResponseHeaders(status, length);
    body = exchange.getResponseBody();
  }

  @Override
  public void write(byte[] bytes, int offset, int length) throws IOException {
    // Copied into the server's buffer or onto the socket before this returns: the proxy may reuse the array.
    body.write(bytes, offset, length);
  }

  @Override
  public void flush() throws IOException {
    body.flush();
  }

  @Override
  public void complete() {
    // Writes the last chunk; a client that has gone meanwhile only gets its connection closed.
    exchange.close();
    ended.complete(null);
  }

  @Override
  public void abort(Throwable cause) {
    ended.completeExceptionally(cause);
  }

  /**
   * Blocks until the response has ended.
   *
   * @param call the exchange's call, cancelled when the waiting thread is interrupted (the gateway is closing)
   * @throws IOException when the response was aborted or the wait interrupted, for the server to drop the
   *     connection
   */
  void awaitEnd(ProxyCall call) throws IOException {
    try {
      ended.get();
    } catch (ExecutionException e) {
      throw new IOException("the response was aborted", e.getCause());
    } catch (InterruptedException e) {
      call.cancel();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("the gateway is closing");
    }
  }
}
