package dev.thinkproxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Test sink: keeps the status, headers and body, and completes a future when the proxy is done. */
class RecordingSink implements ResponseSink {
  final CompletableFuture<Void> done = new CompletableFuture<>();
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private volatile int status;
  private volatile List<Map.Entry<String, String>> headers = List.of();

  /** Forwards {@code request} and waits (at most 20 s) until the response is complete. */
  static RecordingSink forward(ChatCompletionProxy proxy, ProxyRequest request) throws Exception {
    RecordingSink sink = new RecordingSink();
    proxy.forward(request, sink);
    sink.done.get(20, TimeUnit.SECONDS);
    return sink;
  }

  @Override
  public void start(int status, List<Map.Entry<String, String>> headers) {
    this.status = status;
    this.headers = headers;
  }

  @Override
  public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
    out.write(bytes, offset, length);
  }

  @Override
  public void flush() throws IOException {}

  @Override
  public void complete() {
    done.complete(null);
  }

  @Override
  public void abort(Throwable cause) {
    done.completeExceptionally(cause);
  }

  int status() {
    return status;
  }

  String header(String name) {
    return headers.stream().filter(h -> h.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).findFirst()
        .orElse(null);
  }

  synchronized byte[] body() {
    return out.toByteArray();
  }

  String text() {
    return new String(body(), StandardCharsets.UTF_8);
  }
}
