package dev.thinkproxy;

import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Calls several listeners in order; a listener that throws is logged and does not stop the others. */
final class CompositeListener implements ProxyListener {
  private static final Logger log = LoggerFactory.getLogger(CompositeListener.class);

  private final List<ProxyListener> listeners;

  CompositeListener(List<ProxyListener> listeners) {
    this.listeners = listeners;
  }

  private void each(String event, Consumer<ProxyListener> call) {
    for (ProxyListener l : listeners) {
      try {
        call.accept(l);
      } catch (RuntimeException e) {
        log.warn("proxy listener {} failed on {}", l.getClass().getName(), event, e);
      }
    }
  }

  @Override
  public void exchangeStarted(ExchangeInfo exchange) {
    each("exchangeStarted", l -> l.exchangeStarted(exchange));
  }

  @Override
  public void targetResolved(ExchangeInfo exchange) {
    each("targetResolved", l -> l.targetResolved(exchange));
  }

  @Override
  public void targetRefused(ExchangeInfo exchange, ProxyException error) {
    each("targetRefused", l -> l.targetRefused(exchange, error));
  }

  @Override
  public void upstreamConnected(ExchangeInfo exchange) {
    each("upstreamConnected", l -> l.upstreamConnected(exchange));
  }

  @Override
  public void firstByte(ExchangeInfo exchange) {
    each("firstByte", l -> l.firstByte(exchange));
  }

  @Override
  public void firstReasoning(ExchangeInfo exchange) {
    each("firstReasoning", l -> l.firstReasoning(exchange));
  }

  @Override
  public void firstContent(ExchangeInfo exchange) {
    each("firstContent", l -> l.firstContent(exchange));
  }

  @Override
  public void usage(ExchangeInfo exchange, TokenUsage usage) {
    each("usage", l -> l.usage(exchange, usage));
  }

  @Override
  public void failed(ExchangeInfo exchange, ProxyException error) {
    each("failed", l -> l.failed(exchange, error));
  }

  @Override
  public void cancelled(ExchangeInfo exchange) {
    each("cancelled", l -> l.cancelled(exchange));
  }

  @Override
  public void finished(ExchangeInfo exchange) {
    each("finished", l -> l.finished(exchange));
  }
}
