package dev.thinkproxy;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

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
  private final @Nullable String clientAddress;
  private volatile @Nullable String alias;
  private volatile @Nullable String upstreamHost;
  private volatile @Nullable String path;
  private volatile @Nullable String model;
  private volatile boolean stream;
  private volatile int status;
  private volatile long bytesSent;
  private volatile long chunks;
  private volatile long firstByteNanos = -1;
  private volatile long firstContentNanos = -1;
  private volatile long firstReasoningNanos = -1;
  private volatile long durationNanos = -1;
  private volatile @Nullable TokenUsage usage;
  private volatile @Nullable Outcome outcome;
  private volatile @Nullable ProxyException error;

  ExchangeInfo(long id, String method, @Nullable String clientAddress) {
    this.id = id;
    this.startedAt = Instant.now();
    this.startNanos = System.nanoTime();
    this.method = method;
    this.clientAddress = clientAddress;
  }

  /** {@return a number unique among the exchanges of one proxy, in the order they started} */
  public long id() {
    return id;
  }

  /** {@return when the request reached the proxy} */
  public Instant startedAt() {
    return startedAt;
  }

  /** {@return the HTTP method} */
  public String method() {
    return method;
  }

  /** {@return the client's address as the embedder reported it ({@link ProxyRequest#clientAddress()}), or null} */
  public @Nullable String clientAddress() {
    return clientAddress;
  }

  /**
   * {@return the provider alias the request named ({@code /proxy/openai/v1/...}), or null for a base URL in the path
   * and before the target is resolved}
   */
  public @Nullable String alias() {
    return alias;
  }

  /** {@return the upstream host, or null before the target is resolved or when it could not be} */
  public @Nullable String upstreamHost() {
    return upstreamHost;
  }

  /**
   * {@return the upstream path without the query, e.g. {@code /v1/chat/completions}; null before the target is
   * resolved or when it could not be}
   */
  public @Nullable String path() {
    return path;
  }

  /**
   * {@return the request's top-level {@code model}, or null before the body is read, when it has none or is not
   * JSON}
   */
  public @Nullable String model() {
    return model;
  }

  /** {@return whether the request asked for an event stream ({@code "stream": true})} */
  public boolean stream() {
    return stream;
  }

  /** {@return the status sent to the client, or 0 before the response started} */
  public int status() {
    return status;
  }

  /** {@return the bytes of response body written to the client so far} */
  public long bytesSent() {
    return bytesSent;
  }

  /** {@return the events of an event stream relayed to the client so far (heartbeats not counted)} */
  public long chunks() {
    return chunks;
  }

  /**
   * {@return the time from the start of the exchange to the upstream's response headers, or null if they have not
   * come}
   */
  public @Nullable Duration timeToFirstByte() {
    return since(firstByteNanos);
  }

  /** {@return the time from the start of the exchange to the first answer output sent, or null if none was (yet)} */
  public @Nullable Duration timeToFirstContent() {
    return since(firstContentNanos);
  }

  /** {@return the time from the start of the exchange to the first reasoning sent, or null if none was (yet)} */
  public @Nullable Duration timeToFirstReasoning() {
    return since(firstReasoningNanos);
  }

  /**
   * {@return the time from the start of the exchange to its first token, reasoning or content, whichever came
   * first; or null if neither has}
   */
  public @Nullable Duration timeToFirstToken() {
    long r = firstReasoningNanos;
    long c = firstContentNanos;
    return since(r < 0 ? c : c < 0 ? r : Math.min(r, c));
  }

  /** {@return how long the exchange took, or null while it runs} */
  public @Nullable Duration duration() {
    return since(durationNanos);
  }

  /** {@return the last token usage the upstream reported, or null when it reported none (yet)} */
  public @Nullable TokenUsage usage() {
    return usage;
  }

  /** {@return how the exchange ended, or null while it runs} */
  public @Nullable Outcome outcome() {
    return outcome;
  }

  /** {@return the error the proxy reported to the client, or null when it reported none} */
  public @Nullable ProxyException error() {
    return error;
  }

  @Override
  public String toString() {
    return "ExchangeInfo{id=" + id + ", method=" + method + ", alias=" + alias + ", upstreamHost=" + upstreamHost
        + ", path=" + path + ", status=" + status + ", outcome=" + outcome + "}";
  }

  private @Nullable Duration since(long nanos) {
    return nanos < 0 ? null : Duration.ofNanos(nanos);
  }

  long elapsedNanos() {
    return Math.max(0, System.nanoTime() - startNanos);
  }

  void target(@Nullable String alias, String upstreamHost, String path) {
    this.alias = alias;
    this.upstreamHost = upstreamHost;
    this.path = path;
  }

  void request(@Nullable String model, boolean stream) {
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
