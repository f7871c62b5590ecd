package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLException;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.MediaType;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.BufferedSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client request and its upstream call: maps failures to the client's error shape, then relays the
 * response by type: event streams through {@link SseRewriter}, JSON chat completions through
 * {@link JsonRewriter}, everything else byte for byte.
 */
final class Exchange implements ProxyCall, Callback {
  private static final Logger log = LoggerFactory.getLogger(Exchange.class);
  private static final int READ_SIZE = 16 * 1024;

  /** What the exchange was asked to do with the response. */
  record Plan(ThinkMode mode, boolean implicitOpen, boolean rewritable) {}

  private final ChatCompletionProxy proxy;
  private final ResponseSink sink;
  private final Plan plan;
  private final String target;
  private final AtomicBoolean done = new AtomicBoolean();
  private volatile Call call;
  private volatile boolean canceled;
  private volatile boolean shuttingDown;
  private boolean started;

  Exchange(ChatCompletionProxy proxy, ResponseSink sink, Plan plan, String target) {
    this.proxy = proxy;
    this.sink = sink;
    this.plan = plan;
    this.target = target;
  }

  void start(Call call) {
    this.call = call;
    if (canceled) {
      call.cancel();
    }
    call.enqueue(this);
  }

  @Override
  public void cancel() {
    canceled = true;
    Call c = call;
    // The callback thread sees the cancellation (onFailure or a failed read) and aborts the sink; the sink is
    // only ever called from that thread.
    if (c != null) {
      c.cancel();
    }
  }

  /** Ends the exchange for a proxy shutdown: a stream gets an error event, an unstarted response a 503. */
  void shutdown() {
    shuttingDown = true;
    Call c = call;
    if (c != null) {
      c.cancel();
    }
  }

  @Override
  public boolean isDone() {
    return done.get();
  }

  @Override
  public void onFailure(Call c, IOException e) {
    if (canceled) {
      abort(e);
      return;
    }
    ProxyException error = shuttingDown ? ProxyException.shuttingDown() : mapFailure(e);
    log.debug("upstream call to {} failed before the response: {}", target, e.toString());
    fail(error);
  }

  @Override
  public void onResponse(Call c, Response response) {
    try (response) {
      ResponseBody body = response.body();
      MediaType type = body.contentType();
      String subtype = type == null ? "" : (type.type() + "/" + type.subtype()).toLowerCase(Locale.ROOT);
      boolean success = response.isSuccessful();
      if (success && plan.rewritable() && plan.mode() != ThinkMode.OFF && subtype.equals("text/event-stream")) {
        relayEvents(response, body.source());
      } else if (success && plan.rewritable() && plan.mode() != ThinkMode.OFF
          && (subtype.equals("application/json") || subtype.endsWith("+json"))) {
        relayJson(response, body.source());
      } else {
        relayBytes(response, body.source());
      }
    } catch (ClientGone e) {
      log.debug("client went away during the response from {}", target);
      c.cancel();
      abort(e.getCause());
    } catch (RuntimeException e) {
      log.warn("unexpected failure relaying the response from {}", target, e);
      if (!started) {
        fail(new ProxyException(502, "upstream_error", "bad_upstream_response", "the upstream response could not be relayed", e));
      } else {
        abort(e);
      }
    }
  }

  private void relayEvents(Response response, BufferedSource source) throws ClientGone {
    start(response.code(), withStreamingHeaders(HeaderRules.toClient(response.headers(), true)));
    ChunkRewriter chunks = new ChunkRewriter(proxy.thinkOptions(), plan.mode(), plan.implicitOpen(), proxy.mapper());
    SseRewriter events = new SseRewriter(chunks, proxy.mapper());
    ByteArrayOutputStream out = new ByteArrayOutputStream(READ_SIZE);
    byte[] buffer = new byte[READ_SIZE];
    try {
      while (true) {
        int n = source.read(buffer);
        if (n == -1) {
          break;
        }
        events.feed(buffer, 0, n, out);
        write(out);
        if (source.getBuffer().size() == 0) {
          flush();
        }
      }
      events.finish(out);
      write(out);
      flush();
      complete();
    } catch (ClientGone e) {
      throw e;
    } catch (IOException e) {
      if (canceled) {
        abort(e);
        return;
      }
      out.reset();
      events.finish(out);
      ProxyException error = shuttingDown ? ProxyException.shuttingDown() : midStreamFailure(e);
      log.debug("upstream stream from {} failed: {}", target, e.toString());
      byte[] event = eventBytes(error);
      out.write(event, 0, event.length);
      try {
        write(out);
        flush();
        complete();
      } catch (ClientGone gone) {
        abort(gone.getCause());
      }
    }
  }

  private void relayJson(Response response, BufferedSource source) throws ClientGone {
    long limit = proxy.maxResponseBufferBytes();
    byte[] original;
    try {
      if (!source.request(limit + 1)) {
        original = source.readByteArray();
      } else {
        // Too large to rewrite: pass it through unchanged rather than fail.
        relayBytes(response, source);
        return;
      }
    } catch (IOException e) {
      fail(canceled ? null : midStreamFailure(e));
      return;
    }
    byte[] bytes = original;
    try {
      JsonNode node = proxy.mapper().readTree(original);
      if (node instanceof ObjectNode
          && JsonRewriter.rewrite((ObjectNode) node, proxy.thinkOptions(), plan.mode(), plan.implicitOpen())) {
        bytes = proxy.mapper().writeValueAsBytes(node);
      }
    } catch (IOException e) {
      // Not JSON after all: forwarded as received.
    }
    List<Map.Entry<String, String>> headers = HeaderRules.toClient(response.headers(), true);
    headers.add(new SimpleImmutableEntry<>("Content-Length", Integer.toString(bytes.length)));
    start(response.code(), headers);
    write(bytes, 0, bytes.length);
    flush();
    complete();
  }

  private void relayBytes(Response response, BufferedSource source) throws ClientGone {
    start(response.code(), HeaderRules.toClient(response.headers(), false));
    byte[] buffer = new byte[READ_SIZE];
    try {
      while (true) {
        int n = source.read(buffer);
        if (n == -1) {
          break;
        }
        write(buffer, 0, n);
        if (source.getBuffer().size() == 0) {
          flush();
        }
      }
      flush();
      complete();
    } catch (ClientGone e) {
      throw e;
    } catch (IOException e) {
      log.debug("upstream body from {} broke off: {}", target, e.toString());
      abort(e);
    }
  }

  private static List<Map.Entry<String, String>> withStreamingHeaders(List<Map.Entry<String, String>> headers) {
    // Reverse proxies such as nginx buffer responses unless told otherwise, which would batch the events.
    boolean present = headers.stream().anyMatch(h -> h.getKey().equalsIgnoreCase("X-Accel-Buffering"));
    if (!present) {
      headers.add(new SimpleImmutableEntry<>("X-Accel-Buffering", "no"));
    }
    return headers;
  }

  /** Reports an error before the response started, or as a final event if it already had. */
  private void fail(ProxyException error) {
    if (error == null || done.get()) {
      abort(null);
      return;
    }
    try {
      if (!started) {
        byte[] body = error.toJson();
        start(error.status(), error.responseHeaders(body.length));
        write(body, 0, body.length);
      } else {
        byte[] event = eventBytes(error);
        write(event, 0, event.length);
      }
      flush();
      complete();
    } catch (ClientGone e) {
      abort(e.getCause());
    }
  }

  static byte[] eventBytes(ProxyException error) {
    byte[] json = error.toJson();
    byte[] out = new byte[json.length + 8];
    System.arraycopy("data: ".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, out, 0, 6);
    System.arraycopy(json, 0, out, 6, json.length);
    out[out.length - 2] = '\n';
    out[out.length - 1] = '\n';
    return out;
  }

  private ProxyException mapFailure(IOException e) {
    if (e instanceof TargetRefusedException) {
      return ProxyException.refused(e.getMessage());
    }
    if (e instanceof SocketTimeoutException || (e instanceof InterruptedIOException && "timeout".equals(e.getMessage()))) {
      return ProxyException.timeout("the upstream did not answer in time", e);
    }
    if (e instanceof UnknownHostException) {
      return ProxyException.unreachable("the upstream host could not be resolved", e);
    }
    if (e instanceof SSLException) {
      return ProxyException.unreachable("TLS with the upstream failed: " + e.getMessage(), e);
    }
    if (e instanceof ConnectException) {
      return ProxyException.unreachable("the upstream refused the connection", e);
    }
    return ProxyException.unreachable("the upstream could not be reached: " + e.getMessage(), e);
  }

  private ProxyException midStreamFailure(IOException e) {
    if (e instanceof SocketTimeoutException) {
      return ProxyException.timeout("the upstream went silent for longer than the idle timeout", e);
    }
    return ProxyException.unreachable("the upstream connection failed mid-response: " + e.getMessage(), e);
  }

  private void start(int status, List<Map.Entry<String, String>> headers) throws ClientGone {
    started = true;
    try {
      sink.start(status, headers);
    } catch (IOException e) {
      throw new ClientGone(e);
    }
  }

  private void write(ByteArrayOutputStream out) throws ClientGone {
    if (out.size() > 0) {
      write(out.toByteArray(), 0, out.size());
      out.reset();
    }
  }

  private void write(byte[] bytes, int offset, int length) throws ClientGone {
    try {
      sink.write(bytes, offset, length);
    } catch (IOException e) {
      throw new ClientGone(e);
    }
  }

  private void flush() throws ClientGone {
    try {
      sink.flush();
    } catch (IOException e) {
      throw new ClientGone(e);
    }
  }

  private void complete() {
    if (done.compareAndSet(false, true)) {
      proxy.finished(this);
      sink.complete();
    }
  }

  private void abort(Throwable cause) {
    if (done.compareAndSet(false, true)) {
      proxy.finished(this);
      sink.abort(cause == null ? new IOException("canceled") : cause);
    }
  }

  /** A write to the client failed: the client is gone. */
  private static final class ClientGone extends IOException {
    private static final long serialVersionUID = 1L;

    ClientGone(IOException cause) {
      super(cause);
    }
  }
}
