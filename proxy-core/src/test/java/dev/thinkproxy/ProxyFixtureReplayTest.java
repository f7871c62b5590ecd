package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.stream.Stream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every captured provider response served byte for byte by a real local upstream and fetched through the whole
 * proxy; the client-visible bytes must equal the reviewed output checked in under
 * {@code src/test/resources/expected/}. Run with {@code -Dthinkproxy.regenerate=true} to write them anew after a
 * deliberate change, then review the diff.
 */
class ProxyFixtureReplayTest {
  private static final Path EXPECTED = Paths.get("src/test/resources/expected");
  private static final boolean REGENERATE = Boolean.getBoolean("thinkproxy.regenerate");

  private MockWebServer upstream;
  private ChatCompletionProxy proxy;

  @BeforeEach
  void start() throws IOException {
    upstream = new MockWebServer();
    upstream.start();
    proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .build();
  }

  @AfterEach
  void stop() {
    proxy.close();
    upstream.close();
  }

  static Stream<Path> fixtures() {
    return Stream.concat(Fixtures.withExtension(".sse").stream(), Fixtures.withExtension(".json").stream());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void clientSeesTheReviewedOutput(Path fixture) throws Exception {
    String name = fixture.getFileName().toString();
    byte[] recorded = Fixtures.read(fixture);
    boolean stream = name.endsWith(".sse");
    int status = name.contains("-400-") ? 400 : 200;
    upstream.enqueue(new MockResponse.Builder()
        .code(status)
        .setHeader("Content-Type", stream ? "text/event-stream" : "application/json")
        .body(new okio.Buffer().write(recorded))
        .build());

    RecordingSink got = forward(requestTo("/v1/chat/completions", "{\"model\":\"m\",\"stream\":" + stream + "}"));

    assertThat(got.status()).isEqualTo(status);
    Path expected = EXPECTED.resolve(name);
    if (REGENERATE) {
      Files.createDirectories(EXPECTED);
      Files.write(expected, got.body());
    }
    assertThat(Files.exists(expected)).as("reviewed output %s is checked in", expected).isTrue();
    assertThat(new String(got.body(), StandardCharsets.UTF_8))
        .isEqualTo(new String(Files.readAllBytes(expected), StandardCharsets.UTF_8));
    if (status != 200) {
      assertThat(got.body()).as("upstream errors pass through unchanged").isEqualTo(recorded);
    }
  }

  @Test
  void requestHistoryIsForwardedByteForByteByDefault() throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body("{}").build());
    String body = "{\"messages\":[{\"role\":\"assistant\",\"content\":\"<think>r</think>answer\"}],  \"model\":\"m\"}";

    forward(requestTo("/v1/chat/completions", body));

    assertThat(upstream.takeRequest().getBody().utf8()).isEqualTo(body);
  }

  @Test
  void liftedRequestMovesALeadingThinkBlockIntoReasoningContent() throws Exception {
    useLiftingProxy();
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body("{}").build());
    String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"<think>not mine</think>q\"},"
        + "{\"role\":\"assistant\",\"content\":\"<think>\\nchecked the docs\\n</think>\\n\\nanswer\","
        + "\"tool_calls\":[]}]}";

    forward(requestTo("/v1/chat/completions", body));

    RecordedRequest sent = upstream.takeRequest();
    assertThat(sent.getBody().utf8()).isEqualTo("{\"model\":\"m\",\"messages\":["
        + "{\"role\":\"user\",\"content\":\"<think>not mine</think>q\"},"
        + "{\"role\":\"assistant\",\"content\":\"answer\",\"tool_calls\":[],\"reasoning_content\":\"checked the docs\"}]}");
  }

  @Test
  void liftedRequestWithoutThinkBlocksStaysByteForByte() throws Exception {
    useLiftingProxy();
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body("{}").build());
    String body = "{ \"model\" : \"m\", \"messages\":[{\"role\":\"assistant\",\"content\":\"plain <think> later\"},"
        + "{\"role\":\"assistant\",\"content\":\"<think>x</think>y\",\"reasoning_content\":\"kept\"}]}";

    forward(requestTo("/v1/chat/completions", body));

    assertThat(upstream.takeRequest().getBody().utf8()).isEqualTo(body);
  }

  private void useLiftingProxy() {
    proxy.close();
    proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .thinkOptions(ThinkOptions.builder().liftRequestReasoning(true).build())
        .build();
  }

  private ProxyRequest requestTo(String path, String json) {
    return ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.getPort() + path)
        .addHeader("Authorization", "Bearer sk-test")
        .addHeader("Content-Type", "application/json")
        .body(json.getBytes(StandardCharsets.UTF_8))
        .build();
  }

  private RecordingSink forward(ProxyRequest request) throws Exception {
    return RecordingSink.forward(proxy, request);
  }
}
