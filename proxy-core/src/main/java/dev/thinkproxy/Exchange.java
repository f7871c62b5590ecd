package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLException;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Connection;
import okhttp3.EventListener;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client request and its upstream call: maps failures to the client's error shape, then relays the
 * response by type: event streams through {@link SseRewriter} (rewriting chat completion chunks, or only framing
 * events when the mode is off), JSON chat completions through {@link JsonRewriter}, everything else byte for byte.
 *
 * <p>One upstream thread does all reading and writing. The proxy's timer calls {@link #tick} a few times a second:
 * it enforces the first-byte, idle and total timeouts by cancelling the call (the blocked read then fails and the
 * failure is reported as the timeout), and sends heartbeats during silence. Sink calls are serialised by
 * {@link #sinkLock}, so a heartbeat never lands inside an event or overlaps a write.
 */
final class Exchange implements ProxyCall, Callback, ResponseObserver {
  private static final Logger log = LoggerFactory.getLogger(Exchange.class);
  /** okio hands over at most one segment, 8 KiB, per read. */
  private static final int READ_SIZE = 8 * 1024;
  private static final byte[] HEARTBEAT = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final List<Map.Entry<String, String>> EARLY_STREAM_HEADERS = List.of(
      new SimpleImmutableEntry<>("Content-Type", "text/event-stream"),
      new SimpleImmutableEntry<>("Cache-Control", "no-cache"),
      new SimpleImmutableEntry<>("X-Accel-Buffering", "no"));
  private static final int LATE_ANSWER_BYTES = 64 * 1024;
  /** After a heartbeat, the next comes this soon: after a client's FIN the first write succeeds, the second fails. */
  private static final long CONFIRM_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** What the exchange was asked to do with the response. */
  /**
   * @param eventStream the client asked for an event stream ({@code "stream": true}), so the proxy may start one
   *     itself while the upstream has not answered yet
   */
  record Plan(ThinkMode mode, boolean implicitOpen, Endpoint endpoint, boolean eventStream) {}

  /** Which of the exchange's own timeouts ran out. */
  enum Timeout { FIRST_BYTE, IDLE, TOTAL }

  private final ChatCompletionProxy proxy;
  private final ResponseSink sink;
  private final Plan plan;
  private final String target;
  private final ExchangeInfo info;
  private final ProxyListener listener;
  /** The error the client was told about, if any; decides whether the exchange failed. */
  private volatile ProxyException reported;
  private final AtomicBoolean done = new AtomicBoolean();
  private final ReentrantLock sinkLock = new ReentrantLock();
  private final AtomicBoolean heartbeatQueued = new AtomicBoolean();
  private final long startNanos = System.nanoTime();
  private volatile Call call;
  private volatile boolean canceled;
  private volatile boolean shuttingDown;
  private volatile Timeout expired;
  private volatile boolean headersReceived;
  /** When the read in progress from the upstream body started, or 0 while not reading. */
  private volatile long readSince;
  private volatile long lastWriteNanos = startNanos;
  /** Set while an event stream is relayed: the client's stream is between events whenever the sink is free. */
  private volatile boolean heartbeats;
  /** Heartbeats sent since the last data; guarded by {@link #sinkLock}, read by the timer. */
  private volatile int quietBeats;
  /** Guarded by {@link #sinkLock}; volatile for the timer's reads. */
  private volatile boolean started;
  /** The proxy started the client's event stream itself, before the upstream answered; guarded by {@link #sinkLock}. */
  private boolean startedEarly;
  /** Bytes were written to the sink and not flushed yet; guarded by {@link #sinkLock}. */
  private boolean unflushed;
  /**
   * Writes are flushed only when the upstream socket has nothing more to read (see {@link #relayWith}), not after
   * every read; set on the upstream thread before the body is relayed.
   */
  private boolean flushWhenWaiting;

  Exchange(ChatCompletionProxy proxy, ResponseSink sink, Plan plan, ExchangeInfo info) {
    this.proxy = proxy;
    this.sink = sink;
    this.plan = plan;
    this.info = info;
    this.target = info.upstreamHost();
    this.listener = proxy.listener();
  }

  /** OkHttp's events for this exchange's call: tells the listeners when the upstream connection is ready. */
  EventListener connectionEvents() {
    if (listener == ProxyListener.NONE) {
      return EventListener.NONE;
    }
    return new EventListener() {
      private boolean connected;

      @Override
      public void connectionAcquired(Call call, Connection connection) {
        if (!connected) {
          connected = true;
          listener.upstreamConnected(info);
        }
      }
    };
  }

  @Override
  public void reasoning() {
    if (info.markFirstReasoning()) {
      listener.firstReasoning(info);
    }
  }

  @Override
  public void content() {
    if (info.markFirstContent()) {
      listener.firstContent(info);
    }
  }

  @Override
  public void usage(TokenUsage usage) {
    info.usage(usage);
    listener.usage(info, usage);
  }

  void start(Call call) {
    this.call = call;
    if (canceled || shuttingDown || expired != null) {
      call.cancel();
    }
    call.enqueue(this);
  }

  @Override
  public void cancel() {
    canceled = true;
    // The callback thread sees the cancellation (onFailure or a failed read) and aborts the sink.
    cancelCall();
  }

  /** Ends the exchange for a proxy shutdown: a stream gets an error event, an unstarted response a 503. */
  void shutdown() {
    shuttingDown = true;
    cancelCall();
  }

  private void cancelCall() {
    Call c = call;
    if (c != null) {
      c.cancel();
    }
  }

  @Override
  public boolean isDone() {
    return done.get();
  }

  /** Called by the proxy's timer: enforces the timeouts and sends a heartbeat when one is due. */
  void tick(long now) {
    if (done.get()) {
      return;
    }
    long total = proxy.totalTimeout().toNanos();
    long firstByte = proxy.firstByteTimeout().toNanos();
    long idle = proxy.idleTimeout().toNanos();
    long reading = readSince;
    if (total > 0 && now - startNanos > total) {
      expire(Timeout.TOTAL);
    } else if (!headersReceived && firstByte > 0 && now - startNanos > firstByte) {
      expire(Timeout.FIRST_BYTE);
    } else if (reading != 0 && idle > 0 && now - reading > idle) {
      expire(Timeout.IDLE);
    }
    // A streaming request the upstream has not answered yet gets its stream started by the first heartbeat.
    boolean wanted = heartbeats || (plan.eventStream() && !started && !headersReceived);
    if (wanted && now - lastWriteNanos >= heartbeatDue() && heartbeatQueued.compareAndSet(false, true)) {
      try {
        proxy.upstreamThreads().execute(this::heartbeat);
      } catch (RejectedExecutionException e) {
        heartbeatQueued.set(false);
      }
    }
  }

  private long heartbeatDue() {
    long interval = proxy.heartbeatInterval().toNanos();
    if (interval == 0) {
      return Long.MAX_VALUE;
    }
    return quietBeats == 1 ? Math.min(interval, CONFIRM_NANOS) : interval;
  }

  private void expire(Timeout timeout) {
    if (expired == null) {
      expired = timeout;
      log.debug("{} timeout for the exchange with {}", timeout, target);
      cancelCall();
    }
  }

  private void heartbeat() {
    try {
      // A busy sink means data is moving, or the client is not reading and a heartbeat could not go out anyway.
      if (!sinkLock.tryLock()) {
        return;
      }
      try {
        long now = System.nanoTime();
        if (done.get() || now - lastWriteNanos < heartbeatDue()) {
          return;
        }
        if (!started && plan.eventStream() && !headersReceived) {
          // The upstream is slow to answer at all. Starting the stream now keeps middleboxes from cutting it and
          // lets a heartbeat find a client that left; what the upstream answers later arrives within it.
          started = true;
          startedEarly = true;
          heartbeats = true;
          info.status(200);
          sink.start(200, EARLY_STREAM_HEADERS);
        } else if (!heartbeats) {
          return;
        }
        sink.write(HEARTBEAT, 0, HEARTBEAT.length);
        unflushed = false;
        sink.flush();
        lastWriteNanos = now;
        quietBeats++;
      } catch (IOException e) {
        log.debug("client went away during a silence of the upstream {}", target);
        cancel();
      } finally {
        sinkLock.unlock();
      }
    } finally {
      heartbeatQueued.set(false);
    }
  }

  @Override
  public void onFailure(Call c, IOException e) {
    if (canceled) {
      abort(e);
      return;
    }
    log.debug("upstream call to {} failed before the response: {}", target, e.toString());
    fail(shuttingDown ? ProxyException.shuttingDown() : expired != null ? timeoutError(e) : mapFailure(e));
  }

  @Override
  public void onResponse(Call c, Response response) {
    headersReceived = true;
    if (info.markFirstByte()) {
      listener.firstByte(info);
    }
    try (response) {
      ResponseBody body = response.body();
      MediaType type = body.contentType();
      String subtype = type == null ? "" : (type.type() + "/" + type.subtype()).toLowerCase(Locale.ROOT);
      boolean success = response.isSuccessful();
      // Mode off changes nothing, but listeners still hear of reasoning, content and usage.
      boolean parse = success && plan.endpoint().parsed()
          && (plan.mode() != ThinkMode.OFF || listener != ProxyListener.NONE);
      if (success && subtype.equals("text/event-stream")) {
        relayWith(response, () -> relayEvents(response, body.source(), parse));
      } else if (isStartedEarly()) {
        heartbeats = false;
        fail(lateAnswer(response, body.source()));
      } else if (parse && (subtype.equals("application/json") || subtype.endsWith("+json"))) {
        relayJson(response, body.source());
      } else {
        relayWith(response, () -> relayBytes(response, body.source(), null));
      }
    } catch (ClientGone e) {
      log.debug("client went away during the response from {}", target);
      canceled = true;
      c.cancel();
      abort(e.getCause());
    } catch (RuntimeException e) {
      log.warn("unexpected failure relaying the response from {}", target, e);
      ProxyException error =
          new ProxyException(502, "upstream_error", "bad_upstream_response", "the upstream response could not be relayed", e);
      if (!started) {
        fail(error);
      } else {
        report(error);
        abort(e);
      }
    }
  }

  /** A way of relaying a response body. */
  private interface Relay {
    void run() throws ClientGone;
  }

  /**
   * Runs a relay that flushes the client's stream when the upstream makes it wait rather than after every read.
   * Over HTTP/1.1 this thread reads the upstream socket itself, and OkHttp returns a chunked body one chunk per
   * read even when many have arrived, so a flush per read would cost a write to the client's socket per upstream
   * chunk. Instead, the socket flushes what was written just before a read that would wait for the network: the
   * client gets every byte as soon as the proxy has nothing more to do, and a burst of chunks that arrived together
   * goes out in one write. Over HTTP/2 another thread reads the socket, and a read already returns everything that
   * has arrived, so a flush per read is the same thing.
   */
  private void relayWith(Response response, Relay relay) throws ClientGone {
    flushWhenWaiting = response.protocol() == Protocol.HTTP_1_1 || response.protocol() == Protocol.HTTP_1_0;
    if (!flushWhenWaiting) {
      relay.run();
      return;
    }
    proxy.sockets().beforeWaiting(this::flushBeforeWaiting);
    try {
      relay.run();
    } finally {
      proxy.sockets().stopWaitingHook();
    }
  }

  /** Called inside a read of the upstream socket that is about to wait. */
  private void flushBeforeWaiting() {
    sinkLock.lock();
    try {
      if (unflushed && !done.get()) {
        unflushed = false;
        sink.flush();
      }
    } catch (IOException e) {
      // The read under way fails once the call is cancelled, and the relay then ends the exchange.
      log.debug("client went away during the response from {}", target);
      cancel();
    } finally {
      sinkLock.unlock();
    }
  }

  /** Whether the client's stream should be flushed after a read from the upstream. */
  private boolean flushAfterRead(BufferedSource source) {
    return !flushWhenWaiting && source.getBuffer().size() == 0;
  }

  private void relayEvents(Response response, BufferedSource source, boolean parse) throws ClientGone {
    start(response.code(), withStreamingHeaders(HeaderRules.toClient(response.headers(), true)));
    ChunkRewriter chunks = parse
        ? new ChunkRewriter(proxy.thinkOptions(), plan.mode(), plan.implicitOpen(), proxy.mapper(), plan.endpoint(), this)
        : null;
    SseRewriter events = new SseRewriter(chunks, proxy.mapper(), proxy.maxResponseBufferBytes());
    // Grows to what one read makes of its bytes; a slow stream's events stay well under its first size.
    Output out = new Output(1024);
    byte[] buffer = new byte[READ_SIZE];
    heartbeats = true;
    try {
      while (true) {
        int n = read(source, buffer);
        if (n == -1) {
          break;
        }
        events.feed(buffer, 0, n, out);
        info.chunks(events.dataEvents());
        write(out, flushAfterRead(source));
      }
      heartbeats = false;
      events.finish(out);
      info.chunks(events.dataEvents());
      write(out, true);
      complete();
    } catch (ClientGone e) {
      throw e;
    } catch (IOException e) {
      heartbeats = false;
      if (canceled) {
        abort(e);
        return;
      }
      log.debug("upstream stream from {} failed: {}", target, e.toString());
      out.reset();
      events.cutOff(out);
      ProxyException error = midStreamFailure(e);
      report(error);
      byte[] event = eventBytes(error);
      out.write(event, 0, event.length);
      try {
        write(out, true);
        complete();
      } catch (ClientGone gone) {
        abort(gone.getCause());
      }
    }
  }

  private void relayJson(Response response, BufferedSource source) throws ClientGone {
    long limit = proxy.maxResponseBufferBytes();
    Buffer whole = new Buffer();
    try {
      while (true) {
        if (whole.size() > limit) {
          // Too large to rewrite: pass it through unchanged rather than fail.
          relayBytes(response, source, whole);
          return;
        }
        if (read(source, whole) == -1) {
          break;
        }
      }
    } catch (IOException e) {
      fail(canceled ? null : midStreamFailure(e));
      return;
    }
    byte[] bytes = whole.readByteArray();
    try {
      JsonNode node = proxy.mapper().readTree(bytes);
      if (node instanceof ObjectNode
          && JsonRewriter.rewrite((ObjectNode) node, proxy.thinkOptions(), plan.mode(), plan.implicitOpen(),
              plan.endpoint(), this)) {
        bytes = proxy.mapper().writeValueAsBytes(node);
      }
    } catch (IOException e) {
      // Not JSON after all: forwarded as received.
    }
    List<Map.Entry<String, String>> headers = HeaderRules.toClient(response.headers(), true);
    headers.add(new SimpleImmutableEntry<>("Content-Length", Integer.toString(bytes.length)));
    start(response.code(), headers);
    write(bytes, bytes.length, true);
    complete();
  }

  /** Whether the proxy started the client's event stream before the upstream answered. */
  private boolean isStartedEarly() {
    sinkLock.lock();
    try {
      return startedEarly;
    } finally {
      sinkLock.unlock();
    }
  }

  /**
   * What an upstream answered, other than an event stream, after the proxy had started the client's event stream:
   * its own error object when it sent one, otherwise its status and the start of its body.
   */
  private ProxyException lateAnswer(Response response, BufferedSource source) {
    Buffer head = new Buffer();
    try {
      while (head.size() < LATE_ANSWER_BYTES && read(source, head) != -1) {
        // read up to the limit
      }
    } catch (IOException e) {
      log.debug("reading the late answer of {} failed: {}", target, e.toString());
    }
    byte[] all = head.readByteArray();
    byte[] bytes = all.length > LATE_ANSWER_BYTES ? Arrays.copyOf(all, LATE_ANSWER_BYTES) : all;
    String message = "HTTP " + response.code();
    try {
      JsonNode error = proxy.mapper().readTree(bytes).path("error");
      if (error.path("message").isTextual()) {
        message += ": " + error.path("message").asText();
      } else if (error.isTextual()) {
        message += ": " + error.asText();
      }
    } catch (IOException e) {
      String text = new String(bytes, StandardCharsets.UTF_8).strip();
      if (!text.isEmpty()) {
        message += ": " + (text.length() > 200 ? text.substring(0, 200) + "…" : text);
      }
    }
    int status = response.code() >= 400 ? response.code() : 502;
    return new ProxyException(status, "upstream_error", "upstream_error_after_stream_start",
        "the upstream answered after the event stream had started: " + message);
  }

  /** Relays the body unchanged, after {@code prefix} (bytes of it already read), if any. */
  private void relayBytes(Response response, BufferedSource source, Buffer prefix) throws ClientGone {
    start(response.code(), HeaderRules.toClient(response.headers(), false));
    byte[] buffer = new byte[READ_SIZE];
    try {
      if (prefix != null) {
        while (prefix.size() > 0) {
          int n = prefix.read(buffer);
          write(buffer, n, false);
        }
      }
      while (true) {
        int n = read(source, buffer);
        if (n == -1) {
          break;
        }
        write(buffer, n, flushAfterRead(source));
      }
      flush();
      complete();
    } catch (ClientGone e) {
      throw e;
    } catch (IOException e) {
      log.debug("upstream body from {} broke off: {}", target, e.toString());
      if (!canceled) {
        report(midStreamFailure(e));
      }
      abort(e);
    }
  }

  /** One read from the upstream body, timed by the idle timeout. */
  private int read(BufferedSource source, byte[] buffer) throws IOException {
    readSince = System.nanoTime();
    try {
      return source.read(buffer);
    } finally {
      readSince = 0;
    }
  }

  private long read(BufferedSource source, Buffer into) throws IOException {
    readSince = System.nanoTime();
    try {
      return source.read(into, READ_SIZE);
    } finally {
      readSince = 0;
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
    report(error);
    ClientGone gone = null;
    // Decided under the lock: a heartbeat may be starting the client's event stream right now.
    sinkLock.lock();
    try {
      if (!started) {
        byte[] body = error.toJson();
        start(error.status(), error.responseHeaders(body.length));
        write(body, body.length, true);
      } else {
        byte[] event = eventBytes(error);
        write(event, event.length, true);
      }
    } catch (ClientGone e) {
      gone = e;
    } finally {
      sinkLock.unlock();
    }
    if (gone != null) {
      abort(gone.getCause());
    } else {
      complete();
    }
  }

  static byte[] eventBytes(ProxyException error) {
    byte[] json = error.toJson();
    byte[] out = new byte[json.length + 8];
    System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, out, 0, 6);
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

  private ProxyException timeoutError(IOException e) {
    switch (expired) {
      case FIRST_BYTE:
        return ProxyException.timeout("the upstream sent no response within the first-byte timeout of "
            + seconds(proxy.firstByteTimeout()), e);
      case IDLE:
        return ProxyException.timeout("the upstream was silent for longer than the idle timeout of "
            + seconds(proxy.idleTimeout()), e);
      default:
        return ProxyException.timeout("the exchange took longer than the total timeout of "
            + seconds(proxy.totalTimeout()), e);
    }
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  private ProxyException midStreamFailure(IOException e) {
    if (shuttingDown) {
      return ProxyException.shuttingDown();
    }
    if (expired != null) {
      return timeoutError(e);
    }
    if (e instanceof EOFException) {
      return ProxyException.unreachable("the upstream closed the connection before the response was complete", e);
    }
    String reason = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    return ProxyException.unreachable("the upstream connection failed mid-response: " + reason, e);
  }

  private void start(int status, List<Map.Entry<String, String>> headers) throws ClientGone {
    sinkLock.lock();
    try {
      started = true;
      if (startedEarly) {
        // The client's stream began before the upstream answered; the upstream's headers come too late.
        return;
      }
      info.status(status);
      sink.start(status, headers);
    } catch (IOException e) {
      throw new ClientGone(e);
    } finally {
      sinkLock.unlock();
    }
  }

  private void write(Output out, boolean flush) throws ClientGone {
    if (out.size() > 0) {
      write(out.bytes(), out.size(), flush);
      out.reset();
    } else if (flush) {
      flush();
    }
  }

  private void write(byte[] bytes, int length, boolean flush) throws ClientGone {
    sinkLock.lock();
    try {
      sink.write(bytes, 0, length);
      info.sent(length);
      unflushed = !flush;
      if (flush) {
        sink.flush();
      }
      lastWriteNanos = System.nanoTime();
      quietBeats = 0;
    } catch (IOException e) {
      throw new ClientGone(e);
    } finally {
      sinkLock.unlock();
    }
  }

  private void flush() throws ClientGone {
    sinkLock.lock();
    try {
      unflushed = false;
      sink.flush();
    } catch (IOException e) {
      throw new ClientGone(e);
    } finally {
      sinkLock.unlock();
    }
  }

  private void complete() {
    if (done.compareAndSet(false, true)) {
      sinkLock.lock();
      try {
        sink.complete();
      } finally {
        sinkLock.unlock();
        try {
          ended(reported == null ? ExchangeInfo.Outcome.COMPLETED : ExchangeInfo.Outcome.FAILED);
        } finally {
          proxy.finished(this);
        }
      }
    }
  }

  private void abort(Throwable cause) {
    if (done.compareAndSet(false, true)) {
      sinkLock.lock();
      try {
        sink.abort(cause == null ? new IOException("canceled") : cause);
      } finally {
        sinkLock.unlock();
        try {
          if (reported != null && !canceled) {
            ended(ExchangeInfo.Outcome.FAILED);
          } else {
            listener.cancelled(info);
            ended(ExchangeInfo.Outcome.CANCELLED);
          }
        } finally {
          proxy.finished(this);
        }
      }
    }
  }

  /** The client is told about {@code error}: an error status, an error event, or a response cut short. */
  private void report(ProxyException error) {
    if (reported == null) {
      reported = error;
      info.error(error);
      listener.failed(info, error);
    }
  }

  /** Tells the listeners before the proxy counts the exchange as done, so {@code awaitIdle} waits for them too. */
  private void ended(ExchangeInfo.Outcome outcome) {
    if (info.end(outcome)) {
      listener.finished(info);
    }
  }

  /** What the client gets from one read, handed to the sink without a copy. */
  private static final class Output extends ByteArrayOutputStream {
    Output(int size) {
      super(size);
    }

    byte[] bytes() {
      return buf;
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
