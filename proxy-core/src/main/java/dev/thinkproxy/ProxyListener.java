package dev.thinkproxy;

import java.util.List;

/**
 * Hears what happens to each exchange the proxy handles, for access logs, metrics and tracing. Every method has
 * an empty default, so an implementation overrides only what it needs.
 *
 * <p>Order of events for one exchange: {@link #exchangeStarted}, then either {@link #targetRefused} or
 * {@link #targetResolved}; after a resolved target {@link #upstreamConnected}, {@link #firstByte},
 * {@link #firstReasoning}, {@link #firstContent} and {@link #usage} as they happen; {@link #failed} when the
 * proxy reports an error to the client and {@link #cancelled} when the client goes away; and always, last and
 * exactly once, {@link #finished}. Events of one exchange never overlap; events of different exchanges arrive
 * concurrently from different threads, so implementations must be thread-safe. They run on the proxy's I/O
 * threads: keep them quick and never block. An exception thrown by a listener is logged and otherwise ignored.
 *
 * <p>The {@link ExchangeInfo} passed to every event is the same object for the whole exchange; it fills in as
 * the exchange goes on. Nothing in it is secret: no headers, no bodies, no query strings.
 */
public interface ProxyListener {
  /** A listener that does nothing. */
  ProxyListener NONE = new ProxyListener() {};

  /**
   * A request arrived; only the method, client address and start time are known.
   *
   * @param exchange the exchange
   */
  default void exchangeStarted(ExchangeInfo exchange) {}

  /**
   * The upstream URL was resolved and allowed by the policy: alias, host and path are known.
   *
   * @param exchange the exchange
   */
  default void targetResolved(ExchangeInfo exchange) {}

  /**
   * The proxy refused the request before calling any upstream (bad target URL, policy, access key, body too large,
   * too many requests); the client gets {@code error}. {@link #finished} follows.
   *
   * @param exchange the exchange
   * @param error what the client was answered
   */
  default void targetRefused(ExchangeInfo exchange, ProxyException error) {}

  /**
   * A connection to the upstream is ready (new or from the pool) and the request is about to be sent.
   *
   * @param exchange the exchange
   */
  default void upstreamConnected(ExchangeInfo exchange) {}

  /**
   * The upstream's response headers arrived.
   *
   * @param exchange the exchange; its status is known
   */
  default void firstByte(ExchangeInfo exchange) {}

  /**
   * The first reasoning text of the answer went out (in its own field, wrapped in tags, or removed in
   * {@code strip} mode). Reported only for answers the proxy parses: chat completions and completions.
   *
   * @param exchange the exchange
   */
  default void firstReasoning(ExchangeInfo exchange) {}

  /**
   * The first answer output went out: content text, a refusal or a tool call. Reported as for reasoning.
   *
   * @param exchange the exchange
   */
  default void firstContent(ExchangeInfo exchange) {}

  /**
   * The upstream reported token usage; may come more than once, each report replacing the previous one.
   *
   * @param exchange the exchange
   * @param usage the counts of this report
   */
  default void usage(ExchangeInfo exchange, TokenUsage usage) {}

  /**
   * The exchange failed on the upstream's side or the proxy's: the client got the proxy's error status before the
   * response started (upstream unreachable, timeout, shutdown), one error event ending a stream, or a plain
   * response cut short. Upstream error statuses relayed as they came are answers, not failures, and are not
   * reported here.
   *
   * @param exchange the exchange
   * @param error what the client was sent
   */
  default void failed(ExchangeInfo exchange, ProxyException error) {}

  /**
   * The client went away, or the exchange was cancelled, before the response was complete.
   *
   * @param exchange the exchange
   */
  default void cancelled(ExchangeInfo exchange) {}

  /**
   * The exchange ended; {@link ExchangeInfo#outcome()}, the duration and the counters are final.
   *
   * @param exchange the exchange
   */
  default void finished(ExchangeInfo exchange) {}

  /**
   * Combines listeners.
   *
   * @param listeners the listeners, in the order they are called
   * @return one listener that calls each of {@code listeners} in order; {@link #NONE} for an empty list
   */
  static ProxyListener of(List<? extends ProxyListener> listeners) {
    List<ProxyListener> all = List.copyOf(listeners);
    if (all.isEmpty()) {
      return NONE;
    }
    return all.size() == 1 ? all.get(0) : new CompositeListener(all);
  }
}
