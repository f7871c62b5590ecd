package dev.thinkproxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Records every exchange as Micrometer meters in a {@link MeterRegistry} the embedder supplies (a Prometheus
 * registry, Spring Boot's registry, …). Names below are Micrometer's; Prometheus renders them as
 * {@code thinkproxy_requests_total}, {@code thinkproxy_time_to_first_token_seconds_bucket} and so on.
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 *   <tr><td>{@code thinkproxy.requests}</td><td>counter</td><td>{@code outcome}, {@code upstream}, {@code status}</td>
 *       <td>finished exchanges; {@code outcome} is {@code completed}, {@code refused}, {@code failed} or
 *       {@code cancelled}, {@code status} the status sent to the client ({@code 0} when none was)</td></tr>
 *   <tr><td>{@code thinkproxy.time.to.first.token}</td><td>timer, percentile histogram</td><td>{@code upstream}</td>
 *       <td>from the request to the first reasoning or content sent (chat completions and completions)</td></tr>
 *   <tr><td>{@code thinkproxy.time.to.first.byte}</td><td>timer, percentile histogram</td><td>{@code upstream}</td>
 *       <td>from the request to the upstream's response headers</td></tr>
 *   <tr><td>{@code thinkproxy.duration}</td><td>timer</td><td>{@code outcome}, {@code upstream}</td>
 *       <td>whole exchanges, streams included</td></tr>
 *   <tr><td>{@code thinkproxy.active.exchanges}</td><td>gauge</td><td></td>
 *       <td>exchanges started and not yet finished</td></tr>
 *   <tr><td>{@code thinkproxy.tokens}</td><td>counter</td><td>{@code type} ({@code prompt}, {@code completion},
 *       {@code reasoning}), {@code upstream}</td>
 *       <td>tokens the upstreams reported; an exchange's last usage report counts, once, when it finishes</td></tr>
 * </table>
 *
 * <p>The two latency timers publish a percentile histogram (Micrometer's default buckets), so Prometheus users
 * can compute quantiles across instances with {@code histogram_quantile}; every other setting is Micrometer's
 * default, and a registry's {@code MeterFilter}s apply as usual.
 *
 * <p><b>Cardinality.</b> Clients choose the upstream URL, so a host tag taken as it comes could create meters
 * without bound. The {@code upstream} tag is therefore: the provider alias when the request used one (aliases are
 * configured, so bounded); for a base URL in the path, its host, but only for the first
 * {@link Builder#maxUpstreamHosts(int) maxUpstreamHosts} distinct hosts seen (default
 * {@value #DEFAULT_MAX_UPSTREAM_HOSTS}), then {@value #OTHER_UPSTREAM}; and {@value #NO_UPSTREAM} for refused
 * requests without a resolved target (a bad URL, a host the policy refused, a missing key). A refused request never
 * gives a host a place: it keeps its host's tag only when that host already has one (a 503 or 413 to a known
 * provider), so hosts the policy refuses cannot fill the places. With an allow-list of hosts the allowed hosts
 * bound the set anyway.
 *
 * <p><b>Micrometer is optional.</b> proxy-core declares {@code micrometer-core} as an optional dependency, and
 * this is the only class that refers to it; nothing else in proxy-core names this class, and the JVM resolves a
 * class's references only when it is loaded, so an application without Micrometer uses the proxy as before and
 * simply must not create this listener. {@code MicrometerOptionalTest} runs the proxy in a class loader without
 * Micrometer to keep it that way.
 *
 * <p>Thread-safe. Register one listener per registry and share it between proxies if there are several: the
 * active-exchanges gauge belongs to the first listener registered with a registry.
 */
public final class MicrometerProxyListener implements ProxyListener {
  /** How many distinct upstream hosts get their own tag value unless the builder says otherwise. */
  public static final int DEFAULT_MAX_UPSTREAM_HOSTS = 100;
  /** The {@code upstream} tag for hosts beyond the limit. */
  public static final String OTHER_UPSTREAM = "other";
  /** The {@code upstream} tag for refused requests without a resolved target. */
  public static final String NO_UPSTREAM = "none";

  private static final String UPSTREAM = "upstream";
  private static final String OUTCOME = "outcome";

  private final int maxUpstreamHosts;
  private final Set<String> hosts = ConcurrentHashMap.newKeySet();
  private final AtomicInteger active = new AtomicInteger();
  private final Meter.MeterProvider<Counter> requests;
  private final Meter.MeterProvider<Counter> tokens;
  private final Meter.MeterProvider<Timer> timeToFirstToken;
  private final Meter.MeterProvider<Timer> timeToFirstByte;
  private final Meter.MeterProvider<Timer> duration;

  /**
   * A listener with the default settings.
   *
   * @param registry where the meters are registered
   */
  public MicrometerProxyListener(MeterRegistry registry) {
    this(builder(registry));
  }

  private MicrometerProxyListener(Builder b) {
    MeterRegistry registry = b.registry;
    this.maxUpstreamHosts = b.maxUpstreamHosts;
    this.requests = Counter.builder("thinkproxy.requests")
        .description("Exchanges the proxy finished, by outcome, upstream and status sent to the client")
        .withRegistry(registry);
    this.tokens = Counter.builder("thinkproxy.tokens")
        .description("Tokens the upstreams reported in their usage, by type")
        .baseUnit("tokens")
        .withRegistry(registry);
    this.timeToFirstToken = Timer.builder("thinkproxy.time.to.first.token")
        .description("Time from the request to the first reasoning or content sent to the client")
        .publishPercentileHistogram()
        .withRegistry(registry);
    this.timeToFirstByte = Timer.builder("thinkproxy.time.to.first.byte")
        .description("Time from the request to the upstream's response headers")
        .publishPercentileHistogram()
        .withRegistry(registry);
    this.duration = Timer.builder("thinkproxy.duration")
        .description("Time from the request to the end of the exchange, streams included")
        .withRegistry(registry);
    Gauge.builder("thinkproxy.active.exchanges", active, AtomicInteger::get)
        .description("Exchanges started and not yet finished")
        .strongReference(true)
        .register(registry);
  }

  /**
   * Starts configuring a listener.
   *
   * @param registry where the meters are registered
   * @return a builder with the defaults
   */
  public static Builder builder(MeterRegistry registry) {
    return new Builder(registry);
  }

  @Override
  public void exchangeStarted(ExchangeInfo exchange) {
    active.incrementAndGet();
  }

  @Override
  public void firstByte(ExchangeInfo exchange) {
    record(timeToFirstByte, exchange, exchange.timeToFirstByte());
  }

  // Exactly one of the two first-token events records, whichever of reasoning and content came first, even if
  // both had happened before either event ran (ties go to reasoning).
  @Override
  public void firstReasoning(ExchangeInfo exchange) {
    Duration reasoning = exchange.timeToFirstReasoning();
    Duration content = exchange.timeToFirstContent();
    if (content == null || (reasoning != null && reasoning.compareTo(content) <= 0)) {
      record(timeToFirstToken, exchange, reasoning);
    }
  }

  @Override
  public void firstContent(ExchangeInfo exchange) {
    Duration reasoning = exchange.timeToFirstReasoning();
    Duration content = exchange.timeToFirstContent();
    if (reasoning == null || (content != null && content.compareTo(reasoning) < 0)) {
      record(timeToFirstToken, exchange, content);
    }
  }

  @Override
  public void finished(ExchangeInfo exchange) {
    active.decrementAndGet();
    String upstream = upstream(exchange);
    String outcome = exchange.outcome().name().toLowerCase(Locale.ROOT);
    requests.withTags(OUTCOME, outcome, UPSTREAM, upstream, "status", Integer.toString(exchange.status()))
        .increment();
    Duration d = exchange.duration();
    if (d != null) {
      duration.withTags(OUTCOME, outcome, UPSTREAM, upstream).record(d);
    }
    TokenUsage usage = exchange.usage();
    if (usage != null) {
      tokens.withTags("type", "prompt", UPSTREAM, upstream).increment(usage.promptTokens());
      tokens.withTags("type", "completion", UPSTREAM, upstream).increment(usage.completionTokens());
      tokens.withTags("type", "reasoning", UPSTREAM, upstream).increment(usage.reasoningTokens());
    }
  }

  private void record(Meter.MeterProvider<Timer> timer, ExchangeInfo exchange, Duration d) {
    if (d != null) {
      timer.withTag(UPSTREAM, upstream(exchange)).record(d);
    }
  }

  /** The {@code upstream} tag value: the alias, a known host, {@value #OTHER_UPSTREAM} or {@value #NO_UPSTREAM}. */
  String upstream(ExchangeInfo exchange) {
    String alias = exchange.alias();
    if (alias != null) {
      return alias;
    }
    String host = exchange.upstreamHost();
    if (host == null) {
      return NO_UPSTREAM;
    }
    if (hosts.contains(host)) {
      return host;
    }
    if (exchange.outcome() == ExchangeInfo.Outcome.REFUSED) {
      return NO_UPSTREAM;
    }
    // Check and add as one step, so concurrent exchanges to new hosts cannot push the set past its limit.
    synchronized (hosts) {
      if (hosts.contains(host) || hosts.size() < maxUpstreamHosts) {
        hosts.add(host);
        return host;
      }
    }
    return OTHER_UPSTREAM;
  }

  /** Settings for a {@link MicrometerProxyListener}. Not thread-safe; the listener it builds is. */
  public static final class Builder {
    private final MeterRegistry registry;
    private int maxUpstreamHosts = DEFAULT_MAX_UPSTREAM_HOSTS;

    private Builder(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * How many distinct upstream hosts (of requests without an alias) get their own {@code upstream} tag value;
     * requests to further hosts are tagged {@value MicrometerProxyListener#OTHER_UPSTREAM}. Default
     * {@value MicrometerProxyListener#DEFAULT_MAX_UPSTREAM_HOSTS}; 0 tags every host {@code other}.
     *
     * @param maxUpstreamHosts the limit, zero or positive
     * @return this builder
     */
    public Builder maxUpstreamHosts(int maxUpstreamHosts) {
      if (maxUpstreamHosts < 0) {
        throw new IllegalArgumentException("maxUpstreamHosts must not be negative: " + maxUpstreamHosts);
      }
      this.maxUpstreamHosts = maxUpstreamHosts;
      return this;
    }

    /** {@return a listener with these settings; its gauge is registered at once} */
    public MicrometerProxyListener build() {
      return new MicrometerProxyListener(this);
    }
  }
}
