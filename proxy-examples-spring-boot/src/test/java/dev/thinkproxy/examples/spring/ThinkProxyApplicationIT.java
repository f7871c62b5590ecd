package dev.thinkproxy.examples.spring;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonString;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.MockWebServer;
import mockwebserver3.QueueDispatcher;
import mockwebserver3.RecordedRequest;
import okio.BufferedSink;
import okio.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The example application on a random port, with its own {@code application.yml} and a MockWebServer upstream on
 * loopback that the properties allow (as YAML lists arrive: indexed) and name as the provider alias {@code mock}.
 * The upstream is shared by the tests, which run one at a time and each take the requests they cause. Metrics are
 * exported as when the application runs ({@code @SpringBootTest} turns that off by default).
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
@AutoConfigureObservability(tracing = false)
class ThinkProxyApplicationIT {
  /** Guards against hangs only; when things work every wait here ends within a second. */
  private static final Duration HANG_GUARD = Duration.ofSeconds(20);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CHAT_REQUEST =
      "{\"model\":\"test-model\",\"stream\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private static MockWebServer upstream;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(HANG_GUARD).build();

  @LocalServerPort
  private int port;

  @DynamicPropertySource
  static void upstreamProperties(DynamicPropertyRegistry registry) throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    registry.add("thinkproxy.allow-host[0]", () -> "127.0.0.1:" + upstream.getPort());
    registry.add("thinkproxy.provider[0]", () -> "mock=http://127.0.0.1:" + upstream.getPort() + "/v1");
  }

  /** A test that failed may have left a response queued or a request untaken; they must not reach the next. */
  @BeforeEach
  void resetUpstream() throws InterruptedException {
    upstream.setDispatcher(new QueueDispatcher());
    RecordedRequest untaken = upstream.takeRequest(0, TimeUnit.SECONDS);
    while (untaken != null) {
      untaken = upstream.takeRequest(0, TimeUnit.SECONDS);
    }
  }

  @AfterAll
  static void stopUpstream() {
    upstream.close();
  }

  private URI proxied(String path) {
    return URI.create("http://127.0.0.1:" + port + "/proxy/http://127.0.0.1:" + upstream.getPort() + path);
  }

  private static HttpRequest.Builder chatRequest(URI uri, boolean stream) {
    return HttpRequest.newBuilder(uri)
        .timeout(HANG_GUARD)
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(String.format(CHAT_REQUEST, stream)));
  }

  private RecordedRequest takeUpstreamRequest() throws InterruptedException {
    RecordedRequest request = upstream.takeRequest(HANG_GUARD.toSeconds(), TimeUnit.SECONDS);
    assertThat(request).as("a request reached the upstream").isNotNull();
    return request;
  }

  /** One {@code chat.completion.chunk} event of choice 0; null content makes the finishing event. */
  private static String chunk(String content) {
    try {
      String delta = content == null ? "{}" : "{\"content\":" + JSON.writeValueAsString(content) + "}";
      String finish = content == null ? "\"stop\"" : "null";
      return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
          + "\"model\":\"test-model\",\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
          + finish + "}]}\n\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A think-tagged stream, cut inside the tags as providers cut it, in two parts: the upstream sends the first,
   * then waits for {@code gate} before the second. MockWebServer writes a custom body as it is: the declared
   * length frames it.
   */
  private static MockResponse thinkStream(CountDownLatch gate, CountDownLatch finished) {
    byte[] first = (chunk("") + chunk("<th") + chunk("ink>Let me")).getBytes(UTF_8);
    byte[] second = (chunk(" think.</thi") + chunk("nk>\n\nThe answer") + chunk(" is 42.") + chunk(null)
        + "data: [DONE]\n\n").getBytes(UTF_8);
    MockResponseBody body = new MockResponseBody() {
      @Override
      public long getContentLength() {
        return first.length + second.length;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.write(first).flush();
        try {
          // On timeout the test has failed already; the upstream goes on so that nothing waits for it.
          gate.await(HANG_GUARD.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
        sink.write(second).flush();
        finished.countDown();
      }
    };
    return new MockResponse.Builder()
        .setHeader("Content-Type", "text/event-stream; charset=utf-8")
        .body(body)
        .build();
  }

  private static MockResponse thinkCompletion() {
    return new MockResponse.Builder()
        .setHeader("Content-Type", "application/json")
        .body("{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"test-model\","
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            + "\"<think>Let me think.</think>\\n\\nThe answer is 42.\"},\"finish_reason\":\"stop\"}]}")
        .build();
  }

  /** Reasoning and content as a client assembles them from the data lines of a stream, choice 0. */
  private static final class Assembled {
    final StringBuilder reasoning = new StringBuilder();
    final StringBuilder content = new StringBuilder();
    boolean done;

    void add(String line) throws IOException {
      if (!line.startsWith("data:")) {
        return;
      }
      String data = line.substring(5).strip();
      if (data.equals("[DONE]")) {
        done = true;
        return;
      }
      JsonNode delta = JSON.readTree(data).path("choices").path(0).path("delta");
      reasoning.append(delta.path("reasoning_content").asText(""));
      content.append(delta.path("content").asText(""));
    }
  }

  @Test
  void thinkTaggedStreamArrivesSplitEventByEvent() throws Exception {
    CountDownLatch clientHasReasoning = new CountDownLatch(1);
    CountDownLatch upstreamFinished = new CountDownLatch(1);
    upstream.enqueue(thinkStream(clientHasReasoning, upstreamFinished));

    HttpResponse<InputStream> response =
        http.send(chatRequest(proxied("/v1/chat/completions"), true).build(), BodyHandlers.ofInputStream());
    Assembled got = new Assembled();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), UTF_8))) {
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
          type -> assertThat(type).startsWith("text/event-stream"));
      try {
        for (String line; got.reasoning.length() == 0 && (line = reader.readLine()) != null; ) {
          got.add(line);
        }
        assertThat(got.reasoning.toString()).startsWith("Let me");
        assertThat(got.content.toString()).isEmpty();
        assertThat(upstreamFinished.getCount()).as("the upstream is still holding the rest back").isEqualTo(1);
      } finally {
        clientHasReasoning.countDown();
      }
      for (String line; (line = reader.readLine()) != null; ) {
        got.add(line);
      }
    }

    assertThat(got.reasoning.toString()).isEqualTo("Let me think.");
    assertThat(got.content.toString()).isEqualTo("The answer is 42.");
    assertThat(got.done).isTrue();
    RecordedRequest request = takeUpstreamRequest();
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    assertThat(request.getBody().utf8()).isEqualTo(String.format(CHAT_REQUEST, true));
  }

  /**
   * The official OpenAI Java SDK streams through the application. Reasoning is not a typed field of the SDK's
   * models, so it is read from the additional properties (deprecated accessor, still the SDK's only way to
   * unknown fields).
   */
  @Test
  @SuppressWarnings("deprecation")
  void openAiSdkReadsReasoningAndContentFromTheStream() throws Exception {
    CountDownLatch alreadyOpen = new CountDownLatch(0);
    upstream.enqueue(thinkStream(alreadyOpen, new CountDownLatch(1)));
    OpenAIClient client = OpenAIOkHttpClient.builder()
        .apiKey("sk-test")
        .baseUrl(proxied("/v1").toString())
        .maxRetries(0)
        .build();
    StringBuilder reasoning = new StringBuilder();
    StringBuilder content = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("test-model").addUserMessage("hi").build())) {
      stream.stream().flatMap(chunk -> chunk.choices().stream()).map(ChatCompletionChunk.Choice::delta)
          .forEach(delta -> {
            delta.content().ifPresent(content::append);
            JsonValue r = delta._additionalProperties().get("reasoning_content");
            if (r instanceof JsonString text) {
              reasoning.append(text.value());
            }
          });
    } finally {
      client.close();
    }

    assertThat(reasoning.toString()).isEqualTo("Let me think.");
    assertThat(content.toString()).isEqualTo("The answer is 42.");
    assertThat(takeUpstreamRequest().getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
  }

  /** Spring MVC's form filter reads such bodies for PUT, PATCH and DELETE; it must not for the proxy. */
  @ParameterizedTest
  @ValueSource(strings = {"POST", "PUT", "PATCH", "DELETE"})
  void formBodiesReachTheUpstreamByteForByte(String method) throws Exception {
    byte[] form = "purpose=fine-tune&name=J%C3%BCrgen&tag=a&tag=b&note=x+y".getBytes(UTF_8);
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body("{}").build());

    HttpResponse<String> response = http.send(HttpRequest.newBuilder(proxied("/v1/files"))
        .timeout(HANG_GUARD)
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .method(method, HttpRequest.BodyPublishers.ofByteArray(form))
        .build(), BodyHandlers.ofString());

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    RecordedRequest request = takeUpstreamRequest();
    assertThat(request.getMethod()).isEqualTo(method);
    assertThat(request.getHeaders().get("Content-Type")).isEqualTo("application/x-www-form-urlencoded");
    assertThat(request.getBody()).isEqualTo(ByteString.of(form));
  }

  /** {@code //} and {@code :/} work with Tomcat's defaults; the percent-encoded form needs the customizer. */
  @ParameterizedTest
  @ValueSource(strings = {"http://127.0.0.1:%d", "http:/127.0.0.1:%d", "http%%3A%%2F%%2F127.0.0.1%%3A%d"})
  void everyBaseUrlFormReachesTheUpstream(String base) throws Exception {
    upstream.enqueue(thinkCompletion());
    URI uri = URI.create("http://127.0.0.1:" + port + "/proxy/" + String.format(base, upstream.getPort())
        + "/v1/chat/completions?trace=1");

    HttpResponse<String> response = http.send(chatRequest(uri, false).build(), BodyHandlers.ofString());

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode message = JSON.readTree(response.body()).path("choices").path(0).path("message");
    assertThat(message.path("reasoning_content").asText()).isEqualTo("Let me think.");
    assertThat(message.path("content").asText()).isEqualTo("The answer is 42.");
    assertThat(takeUpstreamRequest().getTarget()).isEqualTo("/v1/chat/completions?trace=1");
  }

  /**
   * Tomcat refuses raw brackets in a path with 400 before any servlet runs unless they are allowed; allowed, the
   * proxy answers itself, here refusing an upstream the properties do not allow.
   */
  @Test
  void ipv6BaseUrlReachesTheProxy() throws Exception {
    String body = String.format(CHAT_REQUEST, false);
    try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
      socket.setSoTimeout((int) HANG_GUARD.toMillis());
      OutputStream out = socket.getOutputStream();
      out.write(("POST /proxy/http://[::1]:9/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n"
          + body).getBytes(UTF_8));
      out.flush();
      String response = new String(socket.getInputStream().readAllBytes(), UTF_8);

      assertThat(response).startsWith("HTTP/1.1 403").contains("\"error\"");
    }
  }

  @Test
  void providerAliasFromTheListReachesItsUpstream() throws Exception {
    upstream.enqueue(thinkCompletion());

    HttpResponse<String> response = http.send(chatRequest(
        URI.create("http://127.0.0.1:" + port + "/proxy/mock/v1/chat/completions"), false).build(),
        BodyHandlers.ofString());

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(JSON.readTree(response.body()).path("choices").path(0).path("message").path("reasoning_content")
        .asText()).isEqualTo("Let me think.");
    assertThat(takeUpstreamRequest().getTarget()).isEqualTo("/v1/chat/completions");
  }

  /**
   * The proxy records an exchange just after the client has the whole answer, so a scrape right after the
   * response may come first: the test scrapes again until the count moves, and fails after the hang guard.
   */
  @Test
  void exchangesAreCountedInActuatorsPrometheusScrape() throws Exception {
    double before = completedExchanges();
    upstream.enqueue(thinkCompletion());

    HttpResponse<String> response =
        http.send(chatRequest(proxied("/v1/chat/completions"), false).build(), BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    takeUpstreamRequest();

    long deadline = System.nanoTime() + HANG_GUARD.toNanos();
    double after = completedExchanges();
    while (after == before && System.nanoTime() < deadline) {
      after = completedExchanges();
    }
    assertThat(after).isEqualTo(before + 1);
  }

  /** The sum of {@code thinkproxy_requests_total} samples with {@code outcome="completed"}. */
  private double completedExchanges() throws Exception {
    HttpResponse<String> scrape = http.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + "/actuator/prometheus")).timeout(HANG_GUARD).build(),
        BodyHandlers.ofString());
    assertThat(scrape.statusCode()).isEqualTo(200);
    return scrape.body().lines()
        .filter(line -> line.startsWith("thinkproxy_requests_total{") && line.contains("outcome=\"completed\""))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
        .sum();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "thinkproxy.think-mode=sideways | think mode must be one of split, wrap, strip, off: sideways",
      "thinkproxy.allow-hosts=api.openai.com | thinkproxy.allow-hosts is not a thinkproxy setting",
  })
  void anInvalidPropertyFailsTheStartNamingTheSetting(String property, String message) {
    SpringApplicationBuilder app = new SpringApplicationBuilder(ThinkProxyApplication.class)
        .properties("server.port=0");

    // The servlet's registration, and with it the proxy, is created as the web server starts.
    assertThatThrownBy(() -> app.run("--" + property).close())
        .hasMessage("Unable to start web server")
        .hasStackTraceContaining(message);
  }
}
