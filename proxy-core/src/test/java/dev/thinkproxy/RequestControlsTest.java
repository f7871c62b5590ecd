package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The per-request controls {@code X-Thinkproxy-Mode} and {@code X-Thinkproxy-Implicit-Open}, end to end. */
class RequestControlsTest {
  private static final String TAGGED = "{\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
      + "\"message\":{\"role\":\"assistant\",\"content\":\"<think>r</think>answer\"},\"finish_reason\":\"stop\"}]}";
  private static final String PREFILLED = "{\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
      + "\"message\":{\"role\":\"assistant\",\"content\":\"r</think>answer\"},\"finish_reason\":\"stop\"}]}";

  private MockWebServer upstream;
  private ChatCompletionProxy proxy;

  @BeforeEach
  void start() throws IOException {
    upstream = new MockWebServer();
    upstream.start();
    proxy = proxy(ThinkOptions.defaults());
  }

  @AfterEach
  void stop() {
    proxy.close();
    upstream.close();
  }

  @Test
  void modeHeaderOverridesTheConfiguredModeAndIsNotForwarded() throws Exception {
    serve(TAGGED);
    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"m\"}", "X-Thinkproxy-Mode", "off"));

    assertThat(got.text()).isEqualTo(TAGGED);
    RecordedRequest sent = upstream.takeRequest();
    assertThat(sent.getHeaders().get("X-Thinkproxy-Mode")).isNull();
  }

  @Test
  void stripModeHeaderRemovesTheReasoning() throws Exception {
    serve(TAGGED);
    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"m\"}", "X-Thinkproxy-Mode", "STRIP"));

    assertThat(got.text()).contains("\"content\":\"answer\"").doesNotContain("reasoning");
  }

  @Test
  void invalidModeHeaderIsRefusedWith400BeforeAnythingIsSent() throws Exception {
    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"m\"}", "X-Thinkproxy-Mode", "sideways"));

    assertThat(got.status()).isEqualTo(400);
    assertThat(got.text()).contains("\"code\":\"invalid_think_mode\"");
    assertThat(upstream.getRequestCount()).isZero();
  }

  @Test
  void implicitOpenHeaderTreatsTheAnswerAsStartingInsideReasoning() throws Exception {
    serve(PREFILLED);
    RecordingSink got =
        RecordingSink.forward(proxy, request("{\"model\":\"m\"}", "X-Thinkproxy-Implicit-Open", "true"));

    assertThat(got.text()).contains("\"content\":\"answer\"").contains("\"reasoning_content\":\"r\"");
    assertThat(upstream.takeRequest().getHeaders().get("X-Thinkproxy-Implicit-Open")).isNull();
  }

  @Test
  void withoutImplicitOpenOnlyTheOrphanCloseTagIsRemoved() throws Exception {
    serve(PREFILLED);
    RecordingSink got = RecordingSink.forward(proxy, request("{\"model\":\"m\"}", null, null));

    assertThat(got.text()).contains("\"content\":\"ranswer\"").doesNotContain("reasoning_content");
  }

  @Test
  void implicitOpenByModelPatternMatchesTheRequestedModel() throws Exception {
    proxy.close();
    proxy = proxy(ThinkOptions.builder().implicitOpenModels("deepseek-r1|qwq").build());
    serve(PREFILLED);
    serve(PREFILLED);

    RecordingSink matched = RecordingSink.forward(proxy, request("{\"model\":\"DeepSeek-R1-0528\"}", null, null));
    RecordingSink other = RecordingSink.forward(proxy, request("{\"model\":\"llama-3.3\"}", null, null));

    assertThat(matched.text()).contains("\"reasoning_content\":\"r\"");
    assertThat(other.text()).doesNotContain("reasoning_content");
  }

  @Test
  void implicitOpenHeaderFalseWinsOverTheModelPattern() throws Exception {
    proxy.close();
    proxy = proxy(ThinkOptions.builder().implicitOpenModels("deepseek-r1").build());
    serve(PREFILLED);

    RecordingSink got = RecordingSink.forward(proxy,
        request("{\"model\":\"deepseek-r1\"}", "X-Thinkproxy-Implicit-Open", "false"));

    assertThat(got.text()).doesNotContain("reasoning_content");
  }

  private ChatCompletionProxy proxy(ThinkOptions options) {
    return ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .thinkOptions(options)
        .build();
  }

  private void serve(String json) {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body(json).build());
  }

  private ProxyRequest request(String body, String header, String value) {
    ProxyRequest.Builder b = ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions")
        .addHeader("Content-Type", "application/json")
        .body(body.getBytes(StandardCharsets.UTF_8));
    if (header != null) {
      b.addHeader(header, value);
    }
    return b.build();
  }
}
