package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ProviderAliases;
import dev.thinkproxy.TargetPolicy;
import jakarta.servlet.http.HttpServlet;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okio.Buffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The rest of the OpenAI-compatible surface through a real container: every path under a base URL or a provider
 * alias is forwarded as a plain streaming reverse proxy (any method, any body, any content type), and only chat
 * completions and legacy completions are parsed for reasoning.
 *
 * <p>Mounted: {@code /proxy/*} with the alias {@code local} pointing at the MockWebServer upstream under a path
 * prefix, and {@code /closed/*} serving only aliases.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractApiSurfaceIT {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ServletContainer container;
  private MockWebServer upstream;
  private ChatCompletionProxy proxy;
  private ChatCompletionProxy closed;
  private HttpClient http;
  private int port;

  AbstractApiSurfaceIT(ServletContainer container) {
    this.container = container;
  }

  @BeforeAll
  void startContainer() throws Exception {
    upstream = new MockWebServer();
    upstream.start();
    ProviderAliases aliases = ProviderAliases.builtIn().toBuilder()
        .put("local", "http://127.0.0.1:" + upstream.getPort() + "/api/v1")
        .build();
    TargetPolicy policy = TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build();
    proxy = ChatCompletionProxy.builder().targetPolicy(policy).providers(aliases).build();
    closed = ChatCompletionProxy.builder().targetPolicy(policy).providers(aliases).aliasesOnly(true).build();
    Map<String, HttpServlet> servlets = new LinkedHashMap<>();
    servlets.put("/proxy", new ChatCompletionProxyServlet(proxy));
    servlets.put("/closed", new ChatCompletionProxyServlet(closed));
    port = container.start(servlets);
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(WAIT).build();
  }

  @AfterAll
  void stopContainer() throws Exception {
    container.stop();
    proxy.close();
    closed.close();
    upstream.close();
  }

  @BeforeEach
  @AfterEach
  void drainRecordedRequests() throws InterruptedException {
    while (upstream.takeRequest(0, TimeUnit.MILLISECONDS) != null) {
      // a previous test's requests must not be taken for this one's
    }
  }

  private String base() {
    return "http://127.0.0.1:" + port + "/proxy/http://127.0.0.1:" + upstream.getPort() + "/api/v1";
  }

  private String alias() {
    return "http://127.0.0.1:" + port + "/proxy/local/v1";
  }

  private HttpRequest.Builder request(String url) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(WAIT).header("Authorization", "Bearer sk-test");
  }

  private RecordedRequest taken() throws InterruptedException {
    RecordedRequest r = upstream.takeRequest(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(r).as("the upstream got the request").isNotNull();
    return r;
  }

  /** Every byte value, many times over: what a binary body must survive unchanged. */
  private static byte[] binary(int length) {
    byte[] b = new byte[length];
    for (int i = 0; i < length; i++) {
      b[i] = (byte) (i * 31 + (i >> 8));
    }
    return b;
  }

  @Test
  void modelsListIsForwardedAsAGetWithoutABody() throws Exception {
    String models = "{\"object\":\"list\",\"data\":[{\"id\":\"deepseek-r1\",\"object\":\"model\",\"owned_by\":\"x\"}]}";
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body(models).build());

    HttpResponse<String> got = http.send(request(alias() + "/models").GET().build(), HttpResponse.BodyHandlers.ofString());

    RecordedRequest sent = taken();
    assertThat(sent.getMethod()).isEqualTo("GET");
    assertThat(sent.getTarget()).isEqualTo("/api/v1/models");
    assertThat(sent.getBodySize()).isZero();
    assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.body()).isEqualTo(models);
  }

  @Test
  void multipartUploadReachesTheUpstreamByteForByte() throws Exception {
    String boundary = "----thinkproxy-boundary-7MA4YWxkTrZu0gW";
    byte[] audio = binary(200_000);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
        + "Content-Type: audio/mpeg\r\n\r\n").getBytes(UTF_8));
    body.write(audio);
    body.write(("\r\n--" + boundary + "--\r\n").getBytes(UTF_8));
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json")
        .body("{\"text\":\"<think>not parsed here</think>hello\"}").build());

    HttpResponse<String> got = http.send(request(base() + "/audio/transcriptions?language=en")
        .header("Content-Type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
        .build(), HttpResponse.BodyHandlers.ofString());

    RecordedRequest sent = taken();
    assertThat(sent.getMethod()).isEqualTo("POST");
    assertThat(sent.getTarget()).isEqualTo("/api/v1/audio/transcriptions?language=en");
    assertThat(sent.getHeaders().get("Content-Type")).isEqualTo("multipart/form-data; boundary=" + boundary);
    assertThat(sent.getBody().toByteArray()).isEqualTo(body.toByteArray());
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.body()).isEqualTo("{\"text\":\"<think>not parsed here</think>hello\"}");
  }

  @Test
  void binaryResponseComesBackUnchanged() throws Exception {
    byte[] speech = binary(300_000);
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "audio/mpeg")
        .body(new Buffer().write(speech)).build());

    HttpResponse<byte[]> got = http.send(request(alias() + "/audio/speech")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tts-1\",\"input\":\"hi\",\"voice\":\"alloy\"}"))
        .build(), HttpResponse.BodyHandlers.ofByteArray());

    assertThat(taken().getTarget()).isEqualTo("/api/v1/audio/speech");
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.headers().firstValue("Content-Type")).hasValue("audio/mpeg");
    assertThat(got.body()).isEqualTo(speech);
  }

  @Test
  void otherMethodsAreForwardedAsTheyCame() throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json")
        .body("{\"id\":\"file-1\",\"object\":\"file\",\"deleted\":true}").build());

    HttpResponse<String> got = http.send(request(alias() + "/files/file-1").DELETE().build(),
        HttpResponse.BodyHandlers.ofString());

    RecordedRequest sent = taken();
    assertThat(sent.getMethod()).isEqualTo("DELETE");
    assertThat(sent.getTarget()).isEqualTo("/api/v1/files/file-1");
    assertThat(JSON.readTree(got.body()).path("deleted").asBoolean()).isTrue();
  }

  @Test
  void anEventStreamOfAnotherApiIsRelayedUntouched() throws Exception {
    // Anthropic-compatible /v1/messages: not an OpenAI chat completion, so even a <think> in its text stays.
    String stream = "event: content_block_delta\n"
        + "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"<think>x</think>Hi\"}}\n\n"
        + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/event-stream").body(stream).build());

    HttpResponse<String> got = http.send(request(alias() + "/messages")
        .header("Content-Type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"claude\",\"stream\":true,\"max_tokens\":10,\"messages\":[]}"))
        .build(), HttpResponse.BodyHandlers.ofString());

    RecordedRequest sent = taken();
    assertThat(sent.getTarget()).isEqualTo("/api/v1/messages");
    assertThat(sent.getHeaders().get("anthropic-version")).isEqualTo("2023-06-01");
    assertThat(got.body()).isEqualTo(stream);
  }

  @Test
  void chatCompletionsThroughAnAliasAreSplit() throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/event-stream")
        .body("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>hm</think>Hi\"}}]}\n\ndata: [DONE]\n\n")
        .build());

    HttpResponse<String> got = http.send(request(alias() + "/chat/completions")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"stream\":true}"))
        .build(), HttpResponse.BodyHandlers.ofString());

    assertThat(taken().getTarget()).isEqualTo("/api/v1/chat/completions");
    assertThat(got.body()).contains("\"reasoning_content\":\"hm\"").contains("\"content\":\"Hi\"").doesNotContain("<think>");
  }

  @Test
  void legacyCompletionsAreSplitToo() throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json")
        .body("{\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"<think>hm</think>Hi\","
            + "\"finish_reason\":\"stop\"}]}")
        .build());

    HttpResponse<String> got = http.send(request(alias() + "/completions")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"Hi\"}"))
        .build(), HttpResponse.BodyHandlers.ofString());

    JsonNode choice = JSON.readTree(got.body()).path("choices").path(0);
    assertThat(choice.path("text").asText()).isEqualTo("Hi");
    assertThat(choice.path("reasoning_content").asText()).isEqualTo("hm");
  }

  @Test
  void theClosedGatewayServesAliasesAndRefusesBaseUrls() throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body("{\"data\":[]}").build());
    String mount = "http://127.0.0.1:" + port + "/closed/";

    HttpResponse<String> viaAlias = http.send(request(mount + "local/v1/models").GET().build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> viaUrl = http.send(
        request(mount + "http:/127.0.0.1:" + upstream.getPort() + "/api/v1/models").GET().build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(viaAlias.statusCode()).isEqualTo(200);
    assertThat(taken().getTarget()).isEqualTo("/api/v1/models");
    assertThat(viaUrl.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(viaUrl.body()).at("/error/code").asText()).isEqualTo("provider_required");
    assertThat(upstream.takeRequest(0, TimeUnit.MILLISECONDS)).isNull();
  }

  @Test
  void anUnknownAliasIsA400WithTheOpenAiErrorShape() throws Exception {
    HttpResponse<String> got = http.send(
        request("http://127.0.0.1:" + port + "/proxy/nosuchprovider/v1/models").GET().build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(got.statusCode()).isEqualTo(400);
    assertThat(got.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    assertThat(JSON.readTree(got.body()).at("/error/code").asText()).isEqualTo("unknown_provider");
  }
}
