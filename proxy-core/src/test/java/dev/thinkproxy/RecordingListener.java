package dev.thinkproxy;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/** A listener that writes down the names of the events it hears, in order, and every usage report. */
final class RecordingListener implements ProxyListener {
  final List<String> names = new CopyOnWriteArrayList<>();
  final List<TokenUsage> usages = new CopyOnWriteArrayList<>();
  final CompletableFuture<ExchangeInfo> finished = new CompletableFuture<>();
  final CompletableFuture<ExchangeInfo> firstContent = new CompletableFuture<>();

  @Override
  public void exchangeStarted(ExchangeInfo exchange) {
    names.add("exchangeStarted");
  }

  @Override
  public void targetResolved(ExchangeInfo exchange) {
    names.add("targetResolved");
  }

  @Override
  public void targetRefused(ExchangeInfo exchange, ProxyException error) {
    names.add("targetRefused");
  }

  @Override
  public void upstreamConnected(ExchangeInfo exchange) {
    names.add("upstreamConnected");
  }

  @Override
  public void firstByte(ExchangeInfo exchange) {
    names.add("firstByte");
  }

  @Override
  public void firstReasoning(ExchangeInfo exchange) {
    names.add("firstReasoning");
  }

  @Override
  public void firstContent(ExchangeInfo exchange) {
    names.add("firstContent");
    firstContent.complete(exchange);
  }

  @Override
  public void usage(ExchangeInfo exchange, TokenUsage usage) {
    names.add("usage");
    usages.add(usage);
  }

  @Override
  public void failed(ExchangeInfo exchange, ProxyException error) {
    names.add("failed");
  }

  @Override
  public void cancelled(ExchangeInfo exchange) {
    names.add("cancelled");
  }

  @Override
  public void finished(ExchangeInfo exchange) {
    names.add("finished");
    finished.complete(exchange);
  }
}
