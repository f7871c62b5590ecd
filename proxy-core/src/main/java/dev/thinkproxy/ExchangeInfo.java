package dev.thinkproxy;

import java.time.Duration;
import java.time.Instant;

/**
 * What is known about one exchange, passed to every {@link ProxyListener} event. It fills in as the exchange goes
 * on: the target after it is resolved, the status with the upstream's headers, the counters while the answer is
 * relayed, the outcome and duration when it finishes. Safe to read from any thread; holds no secrets (no headers,
 * bodies or query strings).
 */
public final class ExchangeInfo {
  /** How an exchange ended. */
  public enum Outcome {
    /** The upstream's answer was relayed to its end, whatever its status. */
    COMPLETED,
    /** The proxy refused the request without calling an upstream. */
    REFUSED,
    /** The upstream could not be reached, timed out or broke off; the client got the proxy's error. */
    FAILED,
    /** The client went away, or the exchange was cancelled, before the answer was complete. */
    CANCELLED
  }

  private final long id;
  private final Instant startedAt;
  private final long startNanos;
  private final String method;
  private final String clientAddress;
  private volatile String alias;
  private volatile String upstreamHost;
  private volatile String path;
  private volatile String model;
  private volatile boolean stream;
  private volatile int status;
  private volatile long bytesSent;
  private volatile long chunks;
  private volatile long firstByteNanos = -1;
  private volatile long firstContentNanos = -1;
  private volatile long firstReasoningNanos = -1;
  private volatile long durationNanos = -1;
  private volatile TokenUsage usage;
  private volatile Outcome outcome;
  private volatile ProxyException error;

  ExchangeInfo(long id, String method, String clientAddress) {
    this.id = id;
    this.startedAt = Instant.now();
    this.startNanos = System.nanoTime();
    this.method = method;
    this.clientAddress = clientAddress;
  }

  /** A number unique among the exchanges of one proxy, in the order they started. */
  public long id() {
    return id;
  }

  /** When the request reached the proxy. */
  public Instant startedAt() {
    return startedAt;
  }

  /** The HTTP method. */
  public String method() {
    return method;
  }

  /** The client's address as the embedder reported it ({@link ProxyRequest#clientAddress()}), or null. */
  public String clientAddress() {
    return clientAddress;
  }

  /** The provider alias the request named ({@code /proxy/openai/v1/...}), or null for a base URL in the path. */
  public String alias() {
    return alias;
  }

  /** The upstream host, or null before the target is resolved or when it could not be. */
  public String upstreamHost() {
    return upstreamHost;
  }

  /** The upstream path without the query, e.g. {@code /v1/chat/completions}; null before the target is resolved. */
  public String path() {
    return path;
  }

  /** The request's top-level {@code model}, or null when the body has none or is not JSON. */
  public String model() {
    return model;
  }

  /** Whether the request asked for an event stream ({@code "stream": true}). */
  public boolean stream() {
    return stream;
  }

  /** The status sent to the client, or 0 before the response started. */
  public int status() {
    return status;
  }

  /** Bytes of response body written to the client so far. */
  public long bytesSent() {
    return bytesSent;
  }

  /** Events of an event stream relayed to the client so far (heartbeats not counted). */
  public long chunks() {
    return chunks;
  }

  /** From the start of the exchange to the upstream's response headers, or null if they have not come. */
  public Duration timeToFirstByte() {
    return since(firstByteNanos);
  }

  /** From the start of the exchange to the first answer output sent, or null if none was (yet). */
  public Duration timeToFirstContent() {
    return since(firstContentNanos);
  }

  /** From the start of the exchange to the first reasoning sent, or null if none was (yet). */
  public Duration timeToFirstReasoning() {
    return since(firstReasoningNanos);
  }

  /**
   * From the start of the exchange to its first token, reasoning or content, whichever came first; or null if
   * neither has.
   */
  public Duration timeToFirstToken() {
    long r = firstReasoningNanos;
    long c = firstContentNanos;
    return since(r < 0 ? c : c < 0 ? r : Math.min(r, c));
  }

  /** How long the exchange took, or null while it runs. */
  public Duration duration() {
    return since(durationNanos);
  }

  /** The last token usage the upstream reported, or null. */
  public TokenUsage usage() {
    return usage;
  }

  /** How the exchange ended, or null while it runs. */
  public Outcome outcome() {
    return outcome;
  }

  /** The error the proxy reported to the client, or null. */
  public ProxyException error() {
    return error;
  }

  @Override
  public String toString() {
    return "ExchangeInfo{id=" + id + ", method=" + method + ", alias=" + alias + ", upstreamHost=" + upstreamHost
        + ", path=" + path + ", status=" + status + ", outcome=" + outcome + "}";
  }

  private Duration since(long nanos) {
    return nanos < 0 ? null : Duration.ofNanos(nanos);
  }

  long elapsedNanos() {
    return Math.max(0, System.nanoTime() - startNanos);
  }

  void target(String alias, String upstreamHost, String path) {
    this.alias = alias;
    this.upstreamHost = upstreamHost;
    this.path = path;
  }

  void request(String model, boolean stream) {
    this.model = model;
    this.stream = stream;
  }

  void status(int status) {
    this.status = status;
  }

  /** Called only by the thread that writes the exchange's response. */
  void sent(long bytes) {
    this.bytesSent += bytes;
  }

  void chunks(long events) {
    this.chunks = events;
  }

  /** @return whether this was the first byte */
  boolean markFirstByte() {
    if (firstByteNanos >= 0) {
      return false;
    }
    firstByteNanos = elapsedNanos();
    return true;
  }

  boolean markFirstContent() {
    if (firstContentNanos >= 0) {
      return false;
    }
    firstContentNanos = elapsedNanos();
    return true;
  }

  boolean markFirstReasoning() {
    if (firstReasoningNanos >= 0) {
      return false;
    }
    firstReasoningNanos = elapsedNanos();
    return true;
  }

  void usage(TokenUsage usage) {
    this.usage = usage;
  }

  void error(ProxyException error) {
    this.error = error;
  }

  /** @return false when the exchange had already ended */
  boolean end(Outcome outcome) {
    synchronized (this) {
      if (this.outcome != null) {
        return false;
      }
      this.durationNanos = elapsedNanos();
      this.outcome = outcome;
      return true;
    }
  }
}
