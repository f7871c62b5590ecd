package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The events a {@link ProxyListener} hears, in order, and the {@link ExchangeInfo} they carry. */
class ProxyListenerTest {
  private static final String STREAM = ""
      + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"<think>Let me\"}}]}\n\n"
      + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" see</think>Hello\"}}]}\n\n"
      + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      + "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":30,"
      + "\"total_tokens\":42,\"completion_tokens_details\":{\"reasoning_tokens\":20}}}\n\n"
      + "data: [DONE]\n\n";

  private MockWebServer upstream;
  private ChatCompletionProxy proxy;
  private final RecordingListener events = new RecordingListener();

  @BeforeEach
  void start() throws IOException {
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
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .addListener(events);
  }

  private ProxyRequest request(String body) {
    return ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions")
        .query("key=secret-query")
        .clientAddress("192.0.2.7")
        .addHeader("Authorization", "Bearer sk-secret")
        .addHeader("Content-Type", "application/json")
        .body(body.getBytes(StandardCharsets.UTF_8))
        .build();
  }

  private void serveStream(String stream) {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/event-stream").body(stream).build());
  }

  @Test
  void aStreamReportsEveryStepInOrderAndTheFinalCounts() throws Exception {
    serveStream(STREAM);
    proxy = builder().build();

    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"deepseek-r1\",\"stream\":true}"));
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(events.names).containsExactly("exchangeStarted", "targetResolved", "upstreamConnected", "firstByte",
        "firstReasoning", "firstContent", "usage", "finished");
    assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.COMPLETED);
    assertThat(info.status()).isEqualTo(200);
    assertThat(info.method()).isEqualTo("POST");
    assertThat(info.clientAddress()).isEqualTo("192.0.2.7");
    assertThat(info.alias()).isNull();
    assertThat(info.upstreamHost()).isEqualTo("127.0.0.1");
    assertThat(info.path()).isEqualTo("/v1/chat/completions");
    assertThat(info.model()).isEqualTo("deepseek-r1");
    assertThat(info.stream()).isTrue();
    assertThat(info.bytesSent()).isEqualTo(got.body().length);
    assertThat(info.chunks()).isEqualTo(5);
    assertThat(info.usage()).isEqualTo(new TokenUsage(12, 30, 42, 20));
    assertThat(info.timeToFirstByte()).isNotNull();
    assertThat(info.timeToFirstReasoning()).isLessThanOrEqualTo(info.timeToFirstContent());
    assertThat(info.timeToFirstToken()).isEqualTo(info.timeToFirstReasoning());
    assertThat(info.duration()).isGreaterThanOrEqualTo(info.timeToFirstContent());
    assertThat(info.error()).isNull();
    assertThat(info.toString()).doesNotContain("secret");
  }

  @Test
  void modeOffStillReportsReasoningContentAndUsageAndChangesNoByte() throws Exception {
    serveStream(STREAM);
    proxy = builder().thinkOptions(ThinkOptions.builder().mode(ThinkMode.OFF).build()).build();

    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"m\",\"stream\":true}"));
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(got.text()).isEqualTo(STREAM);
    assertThat(events.names).contains("firstReasoning", "firstContent", "usage");
    assertThat(info.usage().promptTokens()).isEqualTo(12);
  }

  @Test
  void aNonStreamingAnswerReportsItsUsage() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .setHeader("Content-Type", "application/json")
        .body("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
            + "\"content\":\"Hi\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}")
        .build());
    proxy = builder().build();

    RecordingSink.forward(proxy, request("{\"model\":\"m\"}"));
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(events.names).contains("firstContent").doesNotContain("firstReasoning");
    assertThat(info.usage()).isEqualTo(new TokenUsage(3, 1, 4, 0));
    assertThat(info.stream()).isFalse();
    assertThat(info.chunks()).isZero();
  }

  @Test
  void anUpstreamErrorStatusIsRelayedAndCountsAsCompleted() throws Exception {
    upstream.enqueue(new MockResponse.Builder().code(429).setHeader("Content-Type", "application/json")
        .body("{\"error\":{\"message\":\"slow down\"}}").build());
    proxy = builder().build();

    RecordingSink.forward(proxy, request("{\"model\":\"m\"}"));
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(info.status()).isEqualTo(429);
    assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.COMPLETED);
    assertThat(events.names).doesNotContain("failed");
  }

  @Test
  void aRefusedTargetReportsTheRefusalAndNothingElse() throws Exception {
    proxy = builder().build();

    RecordingSink got = RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath("/http://10.0.0.1/v1/chat/completions")
        .body("{}".getBytes(StandardCharsets.UTF_8))
        .build());
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(events.names).containsExactly("exchangeStarted", "targetRefused", "finished");
    assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.REFUSED);
    assertThat(info.status()).isEqualTo(403);
    assertThat(info.error().code()).isEqualTo("target_refused");
    assertThat(info.bytesSent()).isEqualTo(got.body().length);
    assertThat(upstream.getRequestCount()).isZero();
  }

  @Test
  void anUnreachableUpstreamReportsTheFailure() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    proxy = builder().targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + closedPort).build()).build();

    RecordingSink got = RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + closedPort + "/v1/chat/completions")
        .body("{}".getBytes(StandardCharsets.UTF_8))
        .build());
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(got.status()).isEqualTo(502);
    assertThat(events.names).containsExactly("exchangeStarted", "targetResolved", "failed", "finished");
    assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.FAILED);
    assertThat(info.error().code()).isEqualTo("upstream_unreachable");
  }

  @Test
  void aClientThatGoesAwayIsReportedAsCancelled() throws Exception {
    try (ScriptedUpstream stalling = new ScriptedUpstream((socket, out) -> {
      ScriptedUpstream.eventStreamHead(out);
      ScriptedUpstream.chunk(out, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n");
      ScriptedUpstream.stallUntilClosed(socket);
    })) {
      proxy = stalling.proxyBuilder().addListener(events).build();
      ProxyCall call = proxy.forward(stalling.streamingChatRequest(), new RecordingSink());

      events.firstContent.get(5, TimeUnit.SECONDS);
      call.cancel();
      ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

      assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.CANCELLED);
      assertThat(events.names).endsWith("cancelled", "finished").doesNotContain("failed");
      assertThat(stalling.peerClosed.await(5, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void aListenerThatThrowsBreaksNeitherTheExchangeNorTheOtherListeners() throws Exception {
    serveStream(STREAM);
    ProxyListener broken = new ProxyListener() {
      @Override
      public void firstContent(ExchangeInfo exchange) {
        throw new IllegalStateException("listener bug");
      }
    };
    proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .addListener(broken)
        .addListener(events)
        .build();

    RecordingSink got = RecordingSink.forward(proxy, request("{\"stream\":true}"));

    assertThat(got.text()).contains("Hello").endsWith("data: [DONE]\n\n");
    assertThat(events.finished.get(5, TimeUnit.SECONDS).outcome()).isEqualTo(ExchangeInfo.Outcome.COMPLETED);
    assertThat(events.names).contains("firstContent");
  }

  @Test
  void anEmbedderCanReportItsOwnRefusals() throws Exception {
    proxy = builder().build();

    proxy.reportRefused("POST", "192.0.2.9", new ProxyException(401, "invalid_request_error", "invalid_proxy_key", "no"));
    ExchangeInfo info = events.finished.get(5, TimeUnit.SECONDS);

    assertThat(events.names).containsExactly("exchangeStarted", "targetRefused", "finished");
    assertThat(info.status()).isEqualTo(401);
    assertThat(info.clientAddress()).isEqualTo("192.0.2.9");
    assertThat(info.outcome()).isEqualTo(ExchangeInfo.Outcome.REFUSED);
  }
}
