package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.servlet.AbstractServletContainerIT.RawResponse;
import dev.thinkproxy.servlet.AbstractServletContainerIT.Texts;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * CORS as a browser meets it, in a real container on real sockets: preflights sent byte for byte as a browser
 * sends them, and actual requests whose responses (streams, JSON, the upstream's errors and the proxy's own) a
 * browser app must be able to read. MockWebServer is the upstream and shows that a preflight never reaches it.
 *
 * <p>Mounts, each a {@link ChatCompletionProxyServlet} whose proxy allows private networks unless noted:
 * <ul>
 *   <li>{@code /app}: origin {@value #APP}, proxy key {@value #KEY}, body limit {@value #BODY_LIMIT} bytes;</li>
 *   <li>{@code /any}: every origin ({@code *});</li>
 *   <li>{@code /credentials}: origin {@value #APP} with credentials;</li>
 *   <li>{@code /strict}: origin {@value #APP}, the default target policy, which refuses the loopback upstream;</li>
 *   <li>{@code /off}: CORS off;</li>
 *   <li>{@code /configured}: the servlet configured by its init-params, origin {@value #APP}, max-age 5m.</li>
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractCorsIT {
  static final String APP = "https://chat.example.com";
  static final String KEY = "pk-browser";
  static final int BODY_LIMIT = 4096;
  static final String SDK_HEADERS = "authorization, content-type, x-stainless-os";
  private static final Duration WAIT = AbstractServletContainerIT.WAIT;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<ChatCompletionProxy> proxies = new ArrayList<>();
  private ServletContainer container;
  private int port;
  private MockWebServer upstream;

  /** A new, unstarted container. */
  abstract ServletContainer newContainer();

  @BeforeAll
  void startContainer() throws Exception {
    CorsPolicy app = CorsPolicy.builder().allowOrigin(APP).build();
    Map<String, HttpServlet> servlets = new LinkedHashMap<>();
    servlets.put("/app", new ChatCompletionProxyServlet(
        proxy(ChatCompletionProxy.builder().accessKeys(List.of(KEY)).maxBodyBytes(BODY_LIMIT)), app));
    servlets.put("/any", new ChatCompletionProxyServlet(
        proxy(ChatCompletionProxy.builder()), CorsPolicy.builder().allowOrigin("*").build()));
    servlets.put("/credentials", new ChatCompletionProxyServlet(proxy(ChatCompletionProxy.builder()),
        CorsPolicy.builder().allowOrigin(APP).allowCredentials(true).build()));
    ChatCompletionProxy strict = ChatCompletionProxy.builder().build();
    proxies.add(strict);
    servlets.put("/strict", new ChatCompletionProxyServlet(strict, app));
    servlets.put("/off", new ChatCompletionProxyServlet(proxy(ChatCompletionProxy.builder())));
    Map<String, String> initParams = Map.of(
        InitParams.ALLOW_PRIVATE_NETWORKS, "true", InitParams.CORS_ORIGIN, APP, InitParams.CORS_MAX_AGE, "5m");
    servlets.put("/configured", new ChatCompletionProxyServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      public String getInitParameter(String name) {
        return initParams.get(name);
      }
    });
    container = newContainer();
    port = container.start(servlets);
  }

  private ChatCompletionProxy proxy(ChatCompletionProxy.Builder builder) {
    ChatCompletionProxy proxy = builder.targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
        .build();
    proxies.add(proxy);
    return proxy;
  }

  @AfterAll
  void stopContainer() throws Exception {
    try {
      container.stop();
    } finally {
      proxies.forEach(ChatCompletionProxy::close);
    }
  }

  @BeforeEach
  void startUpstream() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stopUpstream() {
    upstream.close();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Preflights

  @Test
  void browserPreflightIsAnsweredByTheProxyWithoutTheKeyAndNeverReachesTheUpstream() throws Exception {
    RawResponse r = preflight("/app", APP, "POST", SDK_HEADERS);

    assertThat(r.status).as("%s", r.headers).isEqualTo(204);
    assertThat(header(r, "access-control-allow-origin")).containsExactly(APP);
    assertThat(header(r, "access-control-allow-methods")).containsExactly("GET, POST, PUT, PATCH, DELETE");
    assertThat(header(r, "access-control-allow-headers")).containsExactly(SDK_HEADERS);
    assertThat(header(r, "access-control-max-age")).containsExactly("600");
    assertThat(header(r, "access-control-allow-credentials")).isEmpty();
    assertThat(String.join(", ", header(r, "vary")))
        .isEqualTo("Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    assertThat(r.body).isEmpty();
    assertThat(upstream.getRequestCount()).as("requests that reached the upstream").isZero();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "another origin    | https://evil.example      | POST     | authorization, content-type",
      "a scheme mismatch | http://chat.example.com   | POST     | authorization",
      "a WebDAV method   | https://chat.example.com  | PROPFIND | authorization",
      "a custom header   | https://chat.example.com  | POST     | authorization, x-custom-header",
      "a cookie header   | https://chat.example.com  | POST     | cookie"})
  void preflightFailingAnyCheckIsRefusedWith403JsonAndNoAllowHeaders(
      String what, String origin, String method, String headers) throws Exception {
    RawResponse r = preflight("/app", origin, method, headers);

    assertThat(r.status).as("%s", r.headers).isEqualTo(403);
    assertThat(r.headers.keySet()).noneMatch(name -> name.startsWith("access-control-allow-"));
    JsonNode error = JSON.readTree(r.body).path("error");
    assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.path("code").asText()).isEqualTo("cors_not_allowed");
    assertThat(error.path("message").asText()).isNotBlank();
    assertThat(upstream.getRequestCount()).as("requests that reached the upstream").isZero();
  }

  @ParameterizedTest(name = "{0} answers {2}")
  @CsvSource(delimiter = '|', nullValues = "none", value = {
      "/any         | http://localhost:5173    | *                        | none | 600",
      "/credentials | https://chat.example.com | https://chat.example.com | true | 600",
      "/configured  | https://chat.example.com | https://chat.example.com | none | 300"})
  void eachMountAnswersPreflightsAsItsPolicySays(String mount, String origin, String allowOrigin, String credentials,
      String maxAge) throws Exception {
    RawResponse r = preflight(mount, origin, "POST", SDK_HEADERS);

    assertThat(r.status).isEqualTo(204);
    assertThat(header(r, "access-control-allow-origin")).containsExactly(allowOrigin);
    assertThat(header(r, "access-control-allow-credentials"))
        .isEqualTo(credentials == null ? List.of() : List.of(credentials));
    assertThat(header(r, "access-control-max-age")).containsExactly(maxAge);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Actual requests

  @Test
  void streamingAnswerIsReadableByTheAppAndTheUpstreamsOwnCorsHeadersAreDropped() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "text/event-stream")
        .addHeader("Access-Control-Allow-Origin", "*")
        .addHeader("Access-Control-Expose-Headers", "*")
        .addHeader("x-request-id", "req_cors")
        .body(AbstractServletContainerIT.chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
            + AbstractServletContainerIT.chunk(AbstractServletContainerIT.content("<think>weighing</th"), null)
            + AbstractServletContainerIT.chunk(AbstractServletContainerIT.content("ink>Answer"), "stop")
            + "data: [DONE]\n\n")
        .build());

    RawResponse r = post("/app", APP, AbstractServletContainerIT.chatBody(true), KEY);

    assertThat(r.status).as("%s", new String(r.body, UTF_8)).isEqualTo(200);
    assertReadableBy(r, APP);
    assertThat(header(r, "access-control-expose-headers")).containsExactly(CorsResponder.EXPOSED_HEADERS);
    assertThat(header(r, "x-request-id")).containsExactly("req_cors");
    Texts texts = Texts.of(Arrays.asList(new String(r.body, UTF_8).split("\n")));
    assertThat(texts.reasoning).isEqualTo("weighing");
    assertThat(texts.content).isEqualTo("Answer");
    assertThat(texts.done).isTrue();
    RecordedRequest forwarded = upstream.takeRequest(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(forwarded.getHeaders().get("Origin")).as("Origin forwarded").isNull();
    assertThat(forwarded.getHeaders().get("X-Thinkproxy-Key")).as("proxy key forwarded").isNull();
  }

  @Test
  void jsonAnswerIsReadableByTheApp() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body("{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"<think>r</think>a\"},\"finish_reason\":\"stop\"}]}")
        .build());

    RawResponse r = post("/app", APP, AbstractServletContainerIT.chatBody(false), KEY);

    assertThat(r.status).isEqualTo(200);
    assertReadableBy(r, APP);
    assertThat(JSON.readTree(r.body).path("choices").path(0).path("message").path("content").asText())
        .isEqualTo("a");
  }

  @Test
  void upstreamErrorIsReadableByTheAppWithItsRateLimitHeaders() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .code(429)
        .addHeader("Content-Type", "application/json")
        .addHeader("Retry-After", "7")
        .addHeader("x-ratelimit-remaining-requests", "0")
        .addHeader("Access-Control-Allow-Origin", "*")
        .body("{\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}")
        .build());

    RawResponse r = post("/app", APP, AbstractServletContainerIT.chatBody(false), KEY);

    assertThat(r.status).isEqualTo(429);
    assertReadableBy(r, APP);
    assertThat(header(r, "retry-after")).containsExactly("7");
    assertThat(header(r, "access-control-expose-headers").get(0))
        .contains("retry-after", "x-ratelimit-remaining-requests");
  }

  @Test
  void missingProxyKeyAnswers401ReadableByTheApp() throws Exception {
    RawResponse r = post("/app", APP, AbstractServletContainerIT.chatBody(false), null);

    assertProxyErrorReadableByTheApp(r, 401, "invalid_proxy_key");
  }

  @Test
  void refusedTargetAnswers403ReadableByTheApp() throws Exception {
    RawResponse r = post("/strict", APP, AbstractServletContainerIT.chatBody(false), null);

    assertProxyErrorReadableByTheApp(r, 403, "target_refused");
  }

  @Test
  void badTargetAnswers400ReadableByTheApp() throws Exception {
    RawResponse r = RawResponse.exchange(port, "POST", "/app/ftp://x/v1/chat/completions",
        browserHeaders(APP, KEY), AbstractServletContainerIT.chatBody(false));

    assertProxyErrorReadableByTheApp(r, 400, "invalid_target_url");
  }

  @Test
  void bodyOverTheLimitAnswers413ReadableByTheApp() throws Exception {
    RawResponse r = post("/app", APP, new byte[BODY_LIMIT + 1], KEY);

    assertProxyErrorReadableByTheApp(r, 413, "request_too_large");
  }

  @Test
  void unreachableUpstreamAnswers502ReadableByTheApp() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closedPort = s.getLocalPort();
    }
    RawResponse r = RawResponse.exchange(port, "POST",
        "/app/http://127.0.0.1:" + closedPort + "/v1/chat/completions", browserHeaders(APP, KEY),
        AbstractServletContainerIT.chatBody(false));

    assertProxyErrorReadableByTheApp(r, 502, "upstream_unreachable");
  }

  @Test
  void disallowedOriginIsServedWithoutCorsHeaders() throws Exception {
    upstream.enqueue(jsonAnswer());

    RawResponse r = post("/app", "https://evil.example", AbstractServletContainerIT.chatBody(false), KEY);

    assertThat(r.status).isEqualTo(200);
    assertThat(r.headers.keySet()).noneMatch(name -> name.startsWith("access-control-"));
    assertThat(header(r, "vary")).contains("Origin");
  }

  @Test
  void wildcardPolicyLetsAnyOriginReadWithoutVary() throws Exception {
    upstream.enqueue(jsonAnswer());

    RawResponse r = post("/any", "http://localhost:5173", AbstractServletContainerIT.chatBody(false), null);

    assertThat(r.status).isEqualTo(200);
    assertThat(header(r, "access-control-allow-origin")).containsExactly("*");
    assertThat(header(r, "access-control-allow-credentials")).isEmpty();
    assertThat(header(r, "vary")).doesNotContain("Origin");
  }

  @Test
  void credentialedPolicyMarksActualResponses() throws Exception {
    upstream.enqueue(jsonAnswer());

    RawResponse r = post("/credentials", APP, AbstractServletContainerIT.chatBody(false), null);

    assertReadableBy(r, APP);
    assertThat(header(r, "access-control-allow-credentials")).containsExactly("true");
  }

  // ---------------------------------------------------------------------------------------------------------
  // CORS off

  @Test
  void corsOffForwardsOptionsAndAddsNoCorsHeaders() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .code(204)
        .addHeader("Access-Control-Allow-Origin", "*")
        .addHeader("Access-Control-Allow-Headers", "*")
        .build());

    RawResponse r = preflight("/off", APP, "POST", SDK_HEADERS);

    assertThat(r.status).isEqualTo(204);
    assertThat(r.headers.keySet()).noneMatch(name -> name.startsWith("access-control-"));
    RecordedRequest forwarded = upstream.takeRequest(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(forwarded).as("the OPTIONS request reached the upstream").isNotNull();
    assertThat(forwarded.getMethod()).isEqualTo("OPTIONS");
  }

  @Test
  void corsOffAddsNoHeadersToActualRequests() throws Exception {
    upstream.enqueue(jsonAnswer());

    RawResponse r = post("/off", APP, AbstractServletContainerIT.chatBody(false), null);

    assertThat(r.status).isEqualTo(200);
    assertThat(r.headers.keySet()).noneMatch(name -> name.startsWith("access-control-"));
    assertThat(header(r, "vary")).doesNotContain("Origin");
  }

  // ---------------------------------------------------------------------------------------------------------
  // Helpers

  private String chatPath(String mount) {
    return mount + "/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";
  }

  /** A preflight with the headers Chromium sends for a cross-site {@code fetch} with custom headers. */
  private RawResponse preflight(String mount, String origin, String method, String requestHeaders)
      throws IOException {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Accept", "*/*");
    headers.put("Access-Control-Request-Method", method);
    headers.put("Access-Control-Request-Headers", requestHeaders);
    headers.put("Origin", origin);
    headers.put("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0");
    headers.put("Sec-Fetch-Mode", "cors");
    headers.put("Sec-Fetch-Site", "cross-site");
    headers.put("Sec-Fetch-Dest", "empty");
    headers.put("Referer", origin + "/");
    headers.put("Accept-Language", "en-US,en;q=0.9");
    return RawResponse.exchange(port, "OPTIONS", chatPath(mount), headers, new byte[0]);
  }

  /** A chat request as a browser app sends it after its preflight; {@code key} null for none. */
  private RawResponse post(String mount, String origin, byte[] body, String key) throws IOException {
    return RawResponse.exchange(port, "POST", chatPath(mount), browserHeaders(origin, key), body);
  }

  private static Map<String, String> browserHeaders(String origin, String key) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Origin", origin);
    headers.put("Authorization", "Bearer sk-test");
    headers.put("Content-Type", "application/json");
    headers.put("X-Stainless-OS", "Linux");
    headers.put("Sec-Fetch-Mode", "cors");
    if (key != null) {
      headers.put("X-Thinkproxy-Key", key);
    }
    return headers;
  }

  private static MockResponse jsonAnswer() {
    return new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body("{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[]}")
        .build();
  }

  private static List<String> header(RawResponse r, String name) {
    return r.headers.getOrDefault(name, List.of());
  }

  /** The one {@code Access-Control-Allow-Origin} names {@code origin}, and caches keep origins apart. */
  private static void assertReadableBy(RawResponse r, String origin) {
    assertThat(header(r, "access-control-allow-origin")).as("Access-Control-Allow-Origin").containsExactly(origin);
    assertThat(header(r, "vary")).as("Vary").contains("Origin");
    assertThat(header(r, "access-control-expose-headers")).hasSize(1);
  }

  private void assertProxyErrorReadableByTheApp(RawResponse r, int status, String code) throws IOException {
    assertThat(r.status).as("%s", new String(r.body, UTF_8)).isEqualTo(status);
    assertReadableBy(r, APP);
    JsonNode error = JSON.readTree(r.body).path("error");
    assertThat(error.path("code").asText()).isEqualTo(code);
    assertThat(upstream.getRequestCount()).as("requests that reached the upstream").isZero();
  }
}
