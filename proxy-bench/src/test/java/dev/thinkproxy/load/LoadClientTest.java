package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client against the mock in the same JVM: outcomes, counts and timings of a small mixed run. */
class LoadClientTest {
  private MockUpstream mock;
  private InetSocketAddress address;

  @BeforeEach
  void start() throws IOException {
    mock = MockUpstream.start(0);
    address = new InetSocketAddress("127.0.0.1", mock.port());
  }

  @AfterEach
  void stop() {
    mock.close();
  }

  @Test
  void mixedRunEndsEachKindAsPlanned() throws Exception {
    String base = "/v1/chat/completions?chunks=20&size=8&reasoning=0.5";
    AtomicInteger n = new AtomicInteger();
    StreamPlan.Planner planner = random -> switch (n.getAndIncrement() % 5) {
      case 0 -> StreamPlan.of("reset", base + "&fault=reset@4");
      case 1 -> new StreamPlan("aborted", base + "&delay_ms=5", 3);
      case 2 -> StreamPlan.of("garbage", base + "&fault=garbage@4");
      default -> StreamPlan.of("normal", base);
    };
    LoadStats s;
    try (LoadClient c = LoadClient.start(new LoadClient.Options(address).concurrency(8).streams(50), planner)) {
      assertThat(c.awaitFinished(Duration.ofSeconds(20))).isTrue();
      s = c.total();
    }
    assertThat(s.streams()).isEqualTo(50);
    assertThat(s.count("normal", StreamOutcome.DONE)).isEqualTo(20);
    assertThat(s.count("garbage", StreamOutcome.DONE)).isEqualTo(10);
    assertThat(s.malformedEvents()).isEqualTo(10);
    assertThat(s.count("reset", StreamOutcome.BROKEN)).isEqualTo(10);
    assertThat(s.count("aborted", StreamOutcome.ABORTED)).isEqualTo(10);
    assertThat(s.ttfb().count()).isEqualTo(50);
    // The answer starts after the 10 reasoning chunks: the reset and aborted streams end before it.
    assertThat(s.ttfc().count()).isEqualTo(30);
    // An aborted stream may get a few more events in the read that reached its abort point.
    assertThat(s.contentEvents()).isBetween(30 * 20 + 10 * 3 + 10 * 2L, 30 * 20 + 10 * 3 + 10 * 20L);
    assertThat(s.gap().count()).isPositive();
    assertThat(s.reasons()).containsEntry("read/write: Connection reset", 10L);
    MockStats m = mock.stats();
    assertThat(m.completed()).isEqualTo(30);
    assertThat(m.faulted()).isEqualTo(10);
  }

  @Test
  void keepAliveReusesConnections() throws Exception {
    LoadClient.Options o = new LoadClient.Options(address).concurrency(4).streams(40).keepAlive(true);
    try (LoadClient c = LoadClient.start(o, StreamPlan.fixed("/v1/chat/completions?chunks=5", 0, 0))) {
      assertThat(c.awaitFinished(Duration.ofSeconds(20))).isTrue();
      assertThat(c.total().count(StreamOutcome.DONE)).isEqualTo(40);
    }
    assertThat(mock.stats().accepted()).isLessThanOrEqualTo(4);
  }

  @Test
  void steadyRateForADuration() throws Exception {
    LoadClient.Options o = new LoadClient.Options(address).rate(100).concurrency(50).duration(Duration.ofSeconds(1));
    try (LoadClient c = LoadClient.start(o, StreamPlan.fixed("/v1/chat/completions?chunks=5&delay_ms=10", 0, 0))) {
      assertThat(c.awaitFinished(Duration.ofSeconds(10))).isTrue();
      LoadStats s = c.total();
      assertThat(s.streams()).isBetween(80L, 101L);
      assertThat(s.count(StreamOutcome.DONE)).isEqualTo(s.streams());
    }
  }

  @Test
  void idleTimeoutEndsAStalledStream() throws Exception {
    LoadClient.Options o = new LoadClient.Options(address).concurrency(1).streams(1)
        .idleTimeout(Duration.ofMillis(300));
    try (LoadClient c = LoadClient.start(o, StreamPlan.fixed("/v1/chat/completions?chunks=5&fault=stall@2", 0, 0))) {
      assertThat(c.awaitFinished(Duration.ofSeconds(10))).isTrue();
      assertThat(c.total().count(StreamOutcome.TIMEOUT)).isEqualTo(1);
    }
  }

  @Test
  void refusedConnectionsAreCounted() throws Exception {
    int port = mock.port();
    mock.close();
    LoadClient.Options o = new LoadClient.Options(new InetSocketAddress("127.0.0.1", port)).streams(5);
    try (LoadClient c = LoadClient.start(o, StreamPlan.fixed("/v1/chat/completions", 0, 0))) {
      assertThat(c.awaitFinished(Duration.ofSeconds(10))).isTrue();
      assertThat(c.total().count(StreamOutcome.CONNECT_FAILED)).isEqualTo(5);
    }
  }
}
