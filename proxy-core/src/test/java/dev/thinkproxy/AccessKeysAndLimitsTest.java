package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Proxy access keys, the cap on concurrent requests and the upstream response header limit. */
class AccessKeysAndLimitsTest {
  private static final String ANSWER = "{\"object\":\"chat.completion\",\"choices\":[]}";

  private MockWebServer upstream;
  private ChatCompletionProxy proxy;

  @BeforeEach
  void start() throws Exception {
    upstream = new MockWebServer();
    upstream.start();
  }

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    upstream.close();
  }

  private ChatCompletionProxy.Builder builder() {
    return ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build());
  }

  private ProxyRequest.Builder request() {
    return ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions")
        .addHeader("Authorization", "Bearer sk-upstream")
        .addHeader("Content-Type", "application/json")
        .body("{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8));
  }

  private void serve() {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body(ANSWER).build());
  }

  private static JsonNode error(RecordingSink got) throws Exception {
    return Sse.MAPPER.readTree(got.body()).path("error");
  }

  @Nested
  class AccessKeys {

    @Test
    void requestWithoutAKeyIsRefusedWith401AndNothingIsSent() throws Exception {
      proxy = builder().accessKeys(List.of("tp-key-1")).build();

      RecordingSink got = RecordingSink.forward(proxy, request().build());

      assertThat(got.status()).isEqualTo(401);
      assertThat(error(got).path("code").asText()).isEqualTo("invalid_proxy_key");
      assertThat(error(got).path("message").asText()).contains("X-Thinkproxy-Key").doesNotContain("tp-key-1");
      assertThat(upstream.getRequestCount()).isZero();
    }

    @Test
    void wrongKeyIsRefusedEvenWhenItIsAPrefixOfAValidOne() throws Exception {
      proxy = builder().accessKeys(List.of("tp-key-1")).build();

      assertThat(RecordingSink.forward(proxy, request().addHeader("X-Thinkproxy-Key", "tp-key").build()).status())
          .isEqualTo(401);
      assertThat(RecordingSink.forward(proxy, request().addHeader("X-Thinkproxy-Key", "tp-key-12").build()).status())
          .isEqualTo(401);
      assertThat(RecordingSink.forward(proxy, request().addHeader("X-Thinkproxy-Key", "").build()).status())
          .isEqualTo(401);
    }

    @Test
    void anyConfiguredKeyIsAcceptedAndTheKeyIsNotForwarded() throws Exception {
      proxy = builder().accessKeys(List.of("tp-key-1", "tp-key-2")).build();
      serve();

      RecordingSink got = RecordingSink.forward(proxy, request().addHeader("x-thinkproxy-key", "tp-key-2").build());

      assertThat(got.status()).isEqualTo(200);
      RecordedRequest sent = upstream.takeRequest();
      assertThat(sent.getHeaders().get("X-Thinkproxy-Key")).isNull();
      assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer sk-upstream");
    }

    @Test
    void aCustomKeyHeaderIsReadAndNotForwarded() throws Exception {
      proxy = builder().accessKeys(List.of("k")).accessKeyHeader("X-Gateway-Key").build();
      serve();

      RecordingSink refused = RecordingSink.forward(proxy, request().addHeader("X-Thinkproxy-Key", "k").build());
      RecordingSink accepted = RecordingSink.forward(proxy, request().addHeader("X-Gateway-Key", "k").build());

      assertThat(refused.status()).isEqualTo(401);
      assertThat(accepted.status()).isEqualTo(200);
      assertThat(upstream.takeRequest().getHeaders().get("X-Gateway-Key")).isNull();
    }

    @Test
    void theKeyIsCheckedBeforeTheTarget() throws Exception {
      proxy = builder().accessKeys(List.of("k")).build();

      RecordingSink got = RecordingSink.forward(proxy,
          request().targetPath("/http://169.254.169.254/latest/meta-data/").build());

      assertThat(got.status()).as("no probing of the policy without a key").isEqualTo(401);
    }

    @Test
    void withoutKeysEveryRequestIsAccepted() throws Exception {
      proxy = builder().build();
      serve();

      assertThat(proxy.requiresAccessKey()).isFalse();
      assertThat(RecordingSink.forward(proxy, request().build()).status()).isEqualTo(200);
    }

    @Test
    void blankKeysAndTheAuthorizationHeaderAreRejectedAsConfiguration() {
      assertThatThrownBy(() -> builder().accessKeys(List.of(" "))).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> builder().accessKeyHeader("Authorization"))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> builder().accessKeyHeader("Bad Header"))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Nested
  class ConcurrentRequests {

    @Test
    void requestBeyondTheLimitGets503WithRetryAfterAndAFreedSlotIsReused() throws Exception {
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch arrived = new CountDownLatch(2);
      upstream.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
          arrived.countDown();
          release.await(20, TimeUnit.SECONDS);
          return new MockResponse.Builder().setHeader("Content-Type", "application/json").body(ANSWER).build();
        }
      });
      proxy = builder().maxConcurrentRequests(2).build();
      List<RecordingSink> held = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        RecordingSink sink = new RecordingSink();
        proxy.forward(request().build(), sink);
        held.add(sink);
      }
      assertThat(arrived.await(10, TimeUnit.SECONDS)).isTrue();

      RecordingSink refused = RecordingSink.forward(proxy, request().build());

      assertThat(refused.status()).isEqualTo(503);
      assertThat(refused.header("Retry-After")).isEqualTo("1");
      assertThat(error(refused).path("code").asText()).isEqualTo("proxy_busy");
      assertThat(upstream.getRequestCount()).isEqualTo(2);

      release.countDown();
      for (RecordingSink sink : held) {
        sink.done.get(10, TimeUnit.SECONDS);
        assertThat(sink.status()).isEqualTo(200);
      }
      assertThat(proxy.awaitIdle(java.time.Duration.ofSeconds(10))).isTrue();
      assertThat(RecordingSink.forward(proxy, request().build()).status()).isEqualTo(200);
    }

    @Test
    void refusedRequestsDoNotTakeASlot() throws Exception {
      proxy = builder().maxConcurrentRequests(1).build();
      serve();

      for (int i = 0; i < 5; i++) {
        assertThat(RecordingSink.forward(proxy, request().targetPath("/http://10.0.0.1/v1/chat/completions").build())
            .status()).isEqualTo(403);
      }

      assertThat(RecordingSink.forward(proxy, request().build()).status()).isEqualTo(200);
    }
  }

  @Nested
  class UpstreamResponseHeaders {

    @Test
    void responseHeadersBeyondTheClientsLimitBecomeA502() throws Exception {
      proxy = builder().build();
      // OkHttp reads at most 256 KiB of response headers.
      upstream.enqueue(new MockResponse.Builder()
          .setHeader("Content-Type", "application/json")
          .setHeader("X-Padding", "a".repeat(300 * 1024))
          .body(ANSWER)
          .build());

      RecordingSink got = RecordingSink.forward(proxy, request().build());

      assertThat(got.status()).isEqualTo(502);
      assertThat(error(got).path("type").asText()).isEqualTo("upstream_error");
    }
  }
}
