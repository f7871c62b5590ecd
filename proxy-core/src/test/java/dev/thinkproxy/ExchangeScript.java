package dev.thinkproxy;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Plays one exchange to a listener the way the proxy does: each step updates the {@link ExchangeInfo} first and
 * then sends the event, so listeners can be tested without an upstream.
 */
final class ExchangeScript {
  private static final AtomicLong IDS = new AtomicLong();

  final ExchangeInfo info;
  private final ProxyListener listener;

  ExchangeScript(ProxyListener listener, String method, String client) {
    this.listener = listener;
    this.info = new ExchangeInfo(IDS.incrementAndGet(), method, client);
    listener.exchangeStarted(info);
  }

  /** A POST from 127.0.0.1. */
  ExchangeScript(ProxyListener listener) {
    this(listener, "POST", "127.0.0.1");
  }

  ExchangeScript request(String model, boolean stream) {
    info.request(model, stream);
    return this;
  }

  /** The URL was parsed; the policy has not allowed it (yet). */
  ExchangeScript target(String alias, String host, String path) {
    info.target(alias, host, path);
    return this;
  }

  ExchangeScript resolved(String alias, String host, String path) {
    target(alias, host, path);
    listener.targetResolved(info);
    listener.upstreamConnected(info);
    return this;
  }

  ExchangeScript refused(ProxyException error) {
    info.status(error.status());
    info.sent(error.toJson().length);
    info.error(error);
    listener.targetRefused(info, error);
    return this;
  }

  ExchangeScript firstByte(int status) {
    info.status(status);
    if (info.markFirstByte()) {
      listener.firstByte(info);
    }
    return this;
  }

  ExchangeScript reasoning() {
    if (info.markFirstReasoning()) {
      listener.firstReasoning(info);
    }
    return this;
  }

  ExchangeScript content() {
    if (info.markFirstContent()) {
      listener.firstContent(info);
    }
    return this;
  }

  ExchangeScript sent(long bytes, long events) {
    info.sent(bytes);
    info.chunks(events);
    return this;
  }

  ExchangeScript usage(TokenUsage usage) {
    info.usage(usage);
    listener.usage(info, usage);
    return this;
  }

  ExchangeScript failed(ProxyException error) {
    info.error(error);
    if (info.status() == 0) {
      info.status(error.status());
    }
    listener.failed(info, error);
    return this;
  }

  ExchangeInfo finish(ExchangeInfo.Outcome outcome) {
    if (outcome == ExchangeInfo.Outcome.CANCELLED) {
      listener.cancelled(info);
    }
    if (info.end(outcome)) {
      listener.finished(info);
    }
    return info;
  }
}
