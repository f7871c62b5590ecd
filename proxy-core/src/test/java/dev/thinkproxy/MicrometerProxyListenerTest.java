package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.thinkproxy.ExchangeInfo.Outcome;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.search.MeterNotFoundException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MicrometerProxyListenerTest {
  private static final String HOST = "llm.example.com";
  private static final String PATH = "/v1/chat/completions";

  private final MeterRegistry registry = new SimpleMeterRegistry();
  /** Whether each timer asked for a percentile histogram (the simple registry keeps no buckets to look at). */
  private final Map<String, Boolean> histograms = new ConcurrentHashMap<>();
  private final MicrometerProxyListener listener;

  MicrometerProxyListenerTest() {
    registry.config().meterFilter(new MeterFilter() {
      @Override
      public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
        histograms.put(id.getName(), Boolean.TRUE.equals(config.isPercentileHistogram()));
        return config;
      }
    });
    listener = new MicrometerProxyListener(registry);
  }

  @Test
  void requestsAreCountedByOutcomeUpstreamAndStatus() {
    stream(HOST).finish(Outcome.COMPLETED);
    stream(HOST).finish(Outcome.COMPLETED);
    new ExchangeScript(listener).resolved(null, HOST, PATH).firstByte(429).sent(80, 0).finish(Outcome.COMPLETED);
    new ExchangeScript(listener).refused(ProxyException.refused("private")).finish(Outcome.REFUSED);
    new ExchangeScript(listener).resolved(null, HOST, PATH)
        .failed(ProxyException.unreachable("refused", null)).finish(Outcome.FAILED);
    new ExchangeScript(listener).resolved(null, HOST, PATH).firstByte(200).reasoning()
        .finish(Outcome.CANCELLED);

    assertThat(requests("completed", HOST, "200")).isEqualTo(2);
    assertThat(requests("completed", HOST, "429")).isEqualTo(1);
    assertThat(requests("refused", "none", "403")).isEqualTo(1);
    assertThat(requests("failed", HOST, "502")).isEqualTo(1);
    assertThat(requests("cancelled", HOST, "200")).isEqualTo(1);
    assertThat(registry.get("thinkproxy.requests").counters()).hasSize(5);
  }

  @Test
  void requestsWithoutAnyStatusAreTaggedZero() {
    new ExchangeScript(listener).resolved(null, HOST, PATH).finish(Outcome.CANCELLED);

    assertThat(requests("cancelled", HOST, "0")).isEqualTo(1);
  }

  @Test
  void latencyTimersRecordOncePerExchangeWithAHistogram() {
    ExchangeInfo first = stream(HOST).finish(Outcome.COMPLETED);
    stream(HOST).finish(Outcome.COMPLETED);
    new ExchangeScript(listener).resolved(null, HOST, PATH).firstByte(500).finish(Outcome.COMPLETED);

    Timer ttft = registry.get("thinkproxy.time.to.first.token").tag("upstream", HOST).timer();
    Timer ttfb = registry.get("thinkproxy.time.to.first.byte").tag("upstream", HOST).timer();
    assertThat(ttft.count()).as("reasoning and content came, one first token each; none for the 500").isEqualTo(2);
    assertThat(ttfb.count()).isEqualTo(3);
    assertThat(ttft.max(TimeUnit.NANOSECONDS)).isGreaterThanOrEqualTo(first.timeToFirstToken().toNanos());
    assertThat(histograms).containsEntry("thinkproxy.time.to.first.token", true)
        .containsEntry("thinkproxy.time.to.first.byte", true);
  }

  @Test
  void firstTokenIsRecordedOnceWhicheverCameFirstAndHowEverTheEventsInterleave() {
    ExchangeScript contentFirst = new ExchangeScript(listener).resolved(null, "a.example", PATH).firstByte(200);
    contentFirst.content().reasoning().finish(Outcome.COMPLETED);
    // Both marks set before either event runs: exactly one of the two events records.
    ExchangeScript late = new ExchangeScript(listener).resolved(null, "b.example", PATH).firstByte(200);
    late.info.markFirstContent();
    late.info.markFirstReasoning();
    listener.firstReasoning(late.info);
    listener.firstContent(late.info);
    late.finish(Outcome.COMPLETED);

    assertThat(registry.get("thinkproxy.time.to.first.token").tag("upstream", "a.example").timer().count())
        .isEqualTo(1);
    Timer b = registry.get("thinkproxy.time.to.first.token").tag("upstream", "b.example").timer();
    assertThat(b.count()).isEqualTo(1);
    assertThat(b.totalTime(TimeUnit.NANOSECONDS)).isEqualTo(late.info.timeToFirstToken().toNanos());
  }

  @Test
  void durationIsTimedByOutcomeAndUpstreamWithoutAHistogram() {
    ExchangeInfo done = stream(HOST).finish(Outcome.COMPLETED);
    new ExchangeScript(listener).refused(ProxyException.badTarget("bad")).finish(Outcome.REFUSED);

    Timer completed = registry.get("thinkproxy.duration").tags("outcome", "completed", "upstream", HOST).timer();
    assertThat(completed.count()).isEqualTo(1);
    assertThat(completed.totalTime(TimeUnit.NANOSECONDS)).isEqualTo(done.duration().toNanos());
    assertThat(histograms).containsEntry("thinkproxy.duration", false);
    assertThat(registry.get("thinkproxy.duration").tags("outcome", "refused", "upstream", "none").timer().count())
        .isEqualTo(1);
  }

  @Test
  void activeExchangesGoUpAndDown() {
    ExchangeScript one = new ExchangeScript(listener);
    ExchangeScript two = new ExchangeScript(listener).resolved(null, HOST, PATH).firstByte(200);
    double bothRunning = active();
    one.refused(ProxyException.missingKey("X-Thinkproxy-Key")).finish(Outcome.REFUSED);
    double oneRunning = active();
    two.finish(Outcome.CANCELLED);

    assertThat(bothRunning).isEqualTo(2);
    assertThat(oneRunning).isEqualTo(1);
    assertThat(active()).isZero();
  }

  @Test
  void tokensCountTheLastUsageOnceWhenTheExchangeFinishes() {
    ExchangeScript running = new ExchangeScript(listener).resolved(null, HOST, PATH).firstByte(200)
        .usage(new TokenUsage(10, 5, 15, 1)).usage(new TokenUsage(10, 50, 60, 20));
    assertThat(registry.find("thinkproxy.tokens").counters()).as("nothing before the end").isEmpty();
    running.finish(Outcome.COMPLETED);
    stream(HOST).usage(new TokenUsage(3, 7, 10, 4)).finish(Outcome.COMPLETED);
    stream(HOST).finish(Outcome.COMPLETED);

    assertThat(tokens("prompt", HOST)).isEqualTo(13);
    assertThat(tokens("completion", HOST)).isEqualTo(57);
    assertThat(tokens("reasoning", HOST)).isEqualTo(24);
  }

  @Test
  void hostsBeyondTheLimitAreTaggedOther() {
    for (int i = 1; i <= MicrometerProxyListener.DEFAULT_MAX_UPSTREAM_HOSTS + 1; i++) {
      stream("host" + i + ".example").finish(Outcome.COMPLETED);
    }
    stream("host1.example").finish(Outcome.COMPLETED);
    new ExchangeScript(listener).resolved("openai", "api.openai.com", PATH).firstByte(200)
        .finish(Outcome.COMPLETED);

    assertThat(requests("completed", "host100.example", "200")).isEqualTo(1);
    assertThat(requests("completed", "other", "200")).as("the 101st host").isEqualTo(1);
    assertThatThrownBy(() -> registry.get("thinkproxy.requests").tag("upstream", "host101.example").counter())
        .isInstanceOf(MeterNotFoundException.class);
    assertThat(requests("completed", "host1.example", "200")).as("a known host keeps its tag").isEqualTo(2);
    assertThat(requests("completed", "openai", "200")).as("aliases are not limited").isEqualTo(1);
    assertThat(registry.get("thinkproxy.time.to.first.token").tag("upstream", "other").timer().count())
        .isEqualTo(1);
  }

  @Test
  void refusedHostsTakeNoPlaceAndKnownHostsKeepTheirTag() {
    MeterRegistry own = new SimpleMeterRegistry();
    MicrometerProxyListener one = MicrometerProxyListener.builder(own).maxUpstreamHosts(1).build();
    new ExchangeScript(one).target(null, "10.0.0.5", PATH).refused(ProxyException.refused("private"))
        .finish(Outcome.REFUSED);
    new ExchangeScript(one).resolved(null, HOST, PATH).firstByte(200).finish(Outcome.COMPLETED);
    new ExchangeScript(one).target(null, HOST, PATH).refused(ProxyException.bodyTooLarge(10))
        .finish(Outcome.REFUSED);
    new ExchangeScript(one).target("openai", "api.openai.com", PATH).refused(ProxyException.busy(1))
        .finish(Outcome.REFUSED);

    assertThat(own.get("thinkproxy.requests").tags("outcome", "refused", "upstream", "none", "status", "403")
        .counter().count()).isEqualTo(1);
    assertThat(own.get("thinkproxy.requests").tags("outcome", "completed", "upstream", HOST).counter().count())
        .as("the refused host did not take the one place").isEqualTo(1);
    assertThat(own.get("thinkproxy.requests").tags("outcome", "refused", "upstream", HOST, "status", "413")
        .counter().count()).isEqualTo(1);
    assertThat(own.get("thinkproxy.requests").tags("outcome", "refused", "upstream", "openai", "status", "503")
        .counter().count()).isEqualTo(1);
  }

  @Test
  void theHostLimitIsABuilderSetting() {
    MeterRegistry own = new SimpleMeterRegistry();
    MicrometerProxyListener two = MicrometerProxyListener.builder(own).maxUpstreamHosts(2).build();
    for (String host : new String[] {"a.example", "b.example", "c.example", "a.example"}) {
      new ExchangeScript(two).resolved(null, host, PATH).firstByte(200).finish(Outcome.COMPLETED);
    }

    assertThat(own.get("thinkproxy.requests").tag("upstream", "a.example").counter().count()).isEqualTo(2);
    assertThat(own.get("thinkproxy.requests").tag("upstream", "other").counter().count()).isEqualTo(1);
    assertThatThrownBy(() -> MicrometerProxyListener.builder(own).maxUpstreamHosts(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private ExchangeScript stream(String host) {
    return new ExchangeScript(listener).request("m", true).resolved(null, host, PATH).firstByte(200)
        .reasoning().content().sent(100, 3);
  }

  private double requests(String outcome, String upstream, String status) {
    return registry.get("thinkproxy.requests").tags("outcome", outcome, "upstream", upstream, "status", status)
        .counter().count();
  }

  private double tokens(String type, String upstream) {
    return registry.get("thinkproxy.tokens").tags("type", type, "upstream", upstream).counter().count();
  }

  private double active() {
    return registry.get("thinkproxy.active.exchanges").gauge().value();
  }
}
