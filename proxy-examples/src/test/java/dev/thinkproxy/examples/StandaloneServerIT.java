package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The standalone server as users run it (embedded Tomcat, flags as on the command line), driven over raw
 * sockets so that request targets reach the container exactly as written.
 */
class StandaloneServerIT {
  private static final String REQUEST_BODY =
      "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private MockWebServer upstream;
  private final List<ThinkProxyServer> servers = new ArrayList<>();

  @BeforeEach
  void startUpstream() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stopAll() {
    servers.forEach(ThinkProxyServer::close);
    upstream.close();
  }

  private ThinkProxyServer start(String... args) {
    ThinkProxyServer server = ThinkProxyServer.start(args);
    servers.add(server);
    return server;
  }

  private ThinkProxyServer startPermissive(String... extra) {
    List<String> args = new ArrayList<>(List.of("--port", "0", "--allow-private-networks"));
    args.addAll(List.of(extra));
    return start(args.toArray(String[]::new));
  }

  private String chatPath() {
    return "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";
  }

  // ---- endpoints of the server itself ------------------------------------------------------------------

  @Test
  void healthzAnswers200() throws Exception {
    ThinkProxyServer server = startPermissive();

    RawHttp.Response r = RawHttp.get(server.port(), "/healthz");

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.json().path("status").asText()).isEqualTo("ok");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/nope", "/v1/chat/completions", "/proxyx/https://example.com/v1/chat/completions"})
  void unknownPathAnswers404WithOpenAiError(String path) throws Exception {
    ThinkProxyServer server = startPermissive();

    RawHttp.Response r = RawHttp.postJson(server.port(), path, REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(404);
    assertOpenAiError(r, "http_404");
  }

  // ---- every base-URL form reaches the upstream -----------------------------------------------------------

  static Stream<Arguments> baseUrlForms() {
    return Stream.of(
        Arguments.of("/proxy/http://127.0.0.1:{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http:/127.0.0.1:{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http%3A%2F%2F127.0.0.1%3A{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http%3a%2f%2f127.0.0.1%3a{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http:%2F%2F127.0.0.1:{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http%3A//127.0.0.1:{P}/v1/chat/completions", "/v1/chat/completions"),
        Arguments.of("/proxy/http://127.0.0.1:{P}/openai/deployments/gpt/v1/chat/completions"
                + "?api-version=2024-10-21&tag=a%20b",
            "/openai/deployments/gpt/v1/chat/completions?api-version=2024-10-21&tag=a%20b"),
        Arguments.of("/proxy/http:/127.0.0.1:{P}/api/v1/chat/completions?x=1&x=2",
            "/api/v1/chat/completions?x=1&x=2"),
        Arguments.of("/proxy/http%3A%2F%2F127.0.0.1%3A{P}/api/v1/chat/completions?x=%2F",
            "/api/v1/chat/completions?x=%2F"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("baseUrlForms")
  void everyBaseUrlFormReachesTheUpstream(String template, String expectedTarget) throws Exception {
    ThinkProxyServer server = startPermissive();
    upstream.enqueue(Sse.thinkStream());
    String target = template.replace("{P}", Integer.toString(upstream.getPort()));

    RawHttp.Response r = RawHttp.postJson(server.port(), target, REQUEST_BODY);

    Sse.assertSplitThinkStream(r);

    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("request at the upstream").isNotNull();
    assertThat(request.getMethod()).isEqualTo("POST");
    assertThat(request.getTarget()).isEqualTo(expectedTarget);
    assertThat(request.getHeaders().get("Host")).isEqualTo("127.0.0.1:" + upstream.getPort());
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-raw");
    assertThat(request.getBody().utf8()).isEqualTo(REQUEST_BODY);
  }

  @Test
  void otherV1PathsArePassedThroughAsAPlainReverseProxy() throws Exception {
    ThinkProxyServer server = startPermissive();
    String models = "{\"object\":\"list\",\"data\":[{\"id\":\"<think>-model\",\"object\":\"model\"}]}";
    upstream.enqueue(new MockResponse.Builder()
        .setHeader("Content-Type", "application/json")
        .setHeader("x-request-id", "req-123")
        .body(models)
        .build());

    RawHttp.Response r = RawHttp.get(server.port(), "/proxy/http:/127.0.0.1:" + upstream.getPort() + "/v1/models");

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.bodyText()).isEqualTo(models);
    assertThat(r.header("x-request-id")).isEqualTo("req-123");
    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request.getMethod()).isEqualTo("GET");
    assertThat(request.getTarget()).isEqualTo("/v1/models");
  }

  // ---- rejections -----------------------------------------------------------------------------------------

  /** Request targets the container itself refuses (before the servlet runs) must still get the JSON shape. */
  static Stream<Arguments> containerRejections() {
    return Stream.of(
        Arguments.of("raw backslash", "/proxy/http://127.0.0.1:{P}/v1\\chat/completions"),
        Arguments.of("raw backslash in the host", "/proxy/http://127.0.0.1\\@:{P}/v1/chat/completions"),
        Arguments.of("raw curly brace", "/proxy/http://127.0.0.1:{P}/v1/{chat}/completions"),
        Arguments.of("raw double quote", "/proxy/http://127.0.0.1:{P}/v1/\"chat/completions"),
        Arguments.of("raw angle bracket", "/proxy/http://127.0.0.1:{P}/v1/<chat>/completions"),
        Arguments.of("raw control character", "/proxy/http://127.0.0.1:{P}/v1/\u0001chat/completions"),
        Arguments.of("encoded NUL", "/proxy/http://127.0.0.1:{P}/v1/chat/completions%00"),
        Arguments.of("path above the root", "/../proxy/http://127.0.0.1:{P}/v1/chat/completions"),
        Arguments.of("encoded path above the root", "/proxy/%2e%2e/%2e%2e/proxy/http://127.0.0.1:{P}/v1/chat/completions"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("containerRejections")
  void containerLevelRejectionsAnswer400InTheOpenAiShape(String what, String template) throws Exception {
    ThinkProxyServer server = startPermissive();
    upstream.enqueue(Sse.thinkStream());
    String target = template.replace("{P}", Integer.toString(upstream.getPort()));

    RawHttp.Response r = RawHttp.postJson(server.port(), target, REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(400);
    assertOpenAiError(r, "http_400");
    assertUpstreamSawNothing();
  }

  /** Targets the container lets through but the proxy must refuse before any network I/O. */
  static Stream<Arguments> badTargets() {
    return Stream.of(
        Arguments.of("dot-dot segment", "/proxy/http://127.0.0.1:{P}/v1/../v1/chat/completions"),
        Arguments.of("encoded dot-dot segment", "/proxy/http://127.0.0.1:{P}/v1/%2e%2e/v1/chat/completions"),
        Arguments.of("userinfo", "/proxy/http://user:pass@127.0.0.1:{P}/v1/chat/completions"),
        Arguments.of("non-canonical IPv4", "/proxy/http://127.1:{P}/v1/chat/completions"),
        Arguments.of("scheme not http", "/proxy/file:/etc/passwd"),
        Arguments.of("no upstream at all", "/proxy/"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badTargets")
  void badTargetUrlsAnswer400(String what, String template) throws Exception {
    ThinkProxyServer server = startPermissive();
    upstream.enqueue(Sse.thinkStream());
    String target = template.replace("{P}", Integer.toString(upstream.getPort()));

    RawHttp.Response r = RawHttp.postJson(server.port(), target, REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(400);
    assertOpenAiError(r, "invalid_target_url");
    assertUpstreamSawNothing();
  }

  @Test
  void loopbackTargetIsRefusedWithoutAllowPrivateNetworks() throws Exception {
    ThinkProxyServer server = start("--port", "0");
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(403);
    assertOpenAiError(r, "target_refused");
    assertUpstreamSawNothing();
  }

  @Test
  void allowHostNamingALoopbackAddressPermitsExactlyThatAddress() throws Exception {
    ThinkProxyServer server = start("--port", "0", "--allow-host", "127.0.0.1:" + upstream.getPort());
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response ok = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);
    RawHttp.Response otherPort = RawHttp.postJson(server.port(),
        "/proxy/http://127.0.0.1:" + (upstream.getPort() == 65535 ? 1 : upstream.getPort() + 1)
            + "/v1/chat/completions", REQUEST_BODY);

    assertThat(ok.status()).as("%s", ok).isEqualTo(200);
    assertThat(Sse.read(ok.bodyText(), "reasoning_content").content()).isEqualTo(Sse.ANSWER);
    assertThat(otherPort.status()).as("%s", otherPort).isEqualTo(403);
    assertOpenAiError(otherPort, "target_refused");
  }

  // ---- request body limit -------------------------------------------------------------------------------

  /** A valid chat request of exactly {@code length} bytes. */
  private static String bodyOfLength(int length) {
    String head = "{\"model\":\"test-model\",\"stream\":true,\"messages\":[],\"pad\":\"";
    String tail = "\"}";
    String body = head + "x".repeat(length - head.length() - tail.length()) + tail;
    assertThat(body.getBytes(StandardCharsets.UTF_8)).hasSize(length);
    return body;
  }

  @Test
  void bodyOverTheLimitWithContentLengthAnswers413() throws Exception {
    ThinkProxyServer server = startPermissive("--max-body-bytes", "100");
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), bodyOfLength(200));

    assertThat(r.status()).as("%s", r).isEqualTo(413);
    assertOpenAiError(r, "request_too_large");
    assertUpstreamSawNothing();
  }

  @Test
  void bodyOverTheLimitWithChunkedEncodingAnswers413() throws Exception {
    ThinkProxyServer server = startPermissive("--max-body-bytes", "100");
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postChunked(server.port(), chatPath(), bodyOfLength(200), 30);

    assertThat(r.status()).as("%s", r).isEqualTo(413);
    assertOpenAiError(r, "request_too_large");
    assertUpstreamSawNothing();
  }

  @Test
  void bodyExactlyAtTheLimitIsForwardedEitherWay() throws Exception {
    ThinkProxyServer server = startPermissive("--max-body-bytes", "100");
    upstream.enqueue(Sse.thinkStream());
    upstream.enqueue(Sse.thinkStream());
    String body = bodyOfLength(100);

    RawHttp.Response withLength = RawHttp.postJson(server.port(), chatPath(), body);
    RawHttp.Response chunked = RawHttp.postChunked(server.port(), chatPath(), body, 30);

    assertThat(withLength.status()).as("%s", withLength).isEqualTo(200);
    assertThat(chunked.status()).as("%s", chunked).isEqualTo(200);
    assertThat(upstream.takeRequest(10, TimeUnit.SECONDS).getBody().utf8()).isEqualTo(body);
    assertThat(upstream.takeRequest(10, TimeUnit.SECONDS).getBody().utf8()).isEqualTo(body);
  }

  // ---- think flags --------------------------------------------------------------------------------------

  @Test
  void thinkModeOffPassesTheStreamThroughUntouched() throws Exception {
    ThinkProxyServer server = startPermissive("--think-mode", "off");
    String upstreamBody = Sse.streamBody(Sse.THINK_SPLIT_PIECES);
    upstream.enqueue(Sse.streamResponse(upstreamBody));

    RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.bodyText()).isEqualTo(upstreamBody);
    Sse.Received got = Sse.read(r.bodyText(), "reasoning_content");
    assertThat(got.content()).isEqualTo("<think>Let me think.</think>\n\nThe answer is 42.");
    assertThat(got.reasoning()).isEmpty();
  }

  @Test
  void reasoningFieldFlagRenamesTheField() throws Exception {
    ThinkProxyServer server = startPermissive("--reasoning-field", "reasoning");
    upstream.enqueue(Sse.thinkStream());
    upstream.enqueue(Sse.thinkCompletion());

    RawHttp.Response streamed = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);
    RawHttp.Response whole = RawHttp.postJson(server.port(), chatPath(),
        "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

    assertThat(streamed.status()).as("%s", streamed).isEqualTo(200);
    Sse.Received got = Sse.read(streamed.bodyText(), "reasoning");
    assertThat(got.reasoning()).isEqualTo(Sse.REASONING);
    assertThat(got.otherReasoning()).as("reasoning_content must not appear").isEmpty();
    assertThat(got.content()).isEqualTo(Sse.ANSWER);
    for (JsonNode chunk : got.chunks()) {
      assertThat(chunk.path("choices").path(0).path("delta").has("reasoning_content")).as("%s", chunk).isFalse();
    }

    assertThat(whole.status()).as("%s", whole).isEqualTo(200);
    JsonNode message = whole.json().path("choices").path(0).path("message");
    assertThat(message.path("reasoning").asText()).isEqualTo(Sse.REASONING);
    assertThat(message.has("reasoning_content")).as("%s", message).isFalse();
    assertThat(message.path("content").asText()).isEqualTo(Sse.ANSWER);
  }

  // ---- provider aliases ---------------------------------------------------------------------------------

  @Test
  void providerFlagDefinesAnAliasAndAliasesOnlyClosesEverythingElse() throws Exception {
    ThinkProxyServer server = start("--port", "0", "--allow-host", "127.0.0.1:" + upstream.getPort(),
        "--provider", "local=http://127.0.0.1:" + upstream.getPort() + "/serving/v1", "--aliases-only");
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response viaAlias = RawHttp.postJson(server.port(), "/proxy/local/v1/chat/completions", REQUEST_BODY);
    RawHttp.Response viaUrl = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

    assertThat(viaAlias.status()).as("%s", viaAlias).isEqualTo(200);
    assertThat(upstream.takeRequest(10, TimeUnit.SECONDS).getTarget()).isEqualTo("/serving/v1/chat/completions");
    Sse.Received got = Sse.read(viaAlias.bodyText(), "reasoning_content");
    assertThat(got.reasoning()).isEqualTo(Sse.REASONING);
    assertThat(got.content()).isEqualTo(Sse.ANSWER);
    assertThat(viaUrl.status()).as("%s", viaUrl).isEqualTo(403);
    assertOpenAiError(viaUrl, "provider_required");
  }

  @Test
  void builtInAliasesCanBeReplacedRemovedOrDropped() throws Exception {
    ThinkProxyServer replaced = start("--port", "0", "--provider", "openai=https://gateway.example.com/v1,ollama=");
    ThinkProxyServer bare = start("--port", "0", "--no-builtin-providers", "--provider", "mine=https://example.com/v1");

    assertThat(replaced.proxy().providers().asMap())
        .containsEntry("openai", "https://gateway.example.com/v1")
        .containsEntry("groq", "https://api.groq.com/openai/v1")
        .doesNotContainKey("ollama");
    assertThat(bare.proxy().providers().asMap()).containsOnlyKeys("mine");
    RawHttp.Response unknown = RawHttp.postJson(bare.port(), "/proxy/openai/v1/chat/completions", REQUEST_BODY);
    assertThat(unknown.status()).as("%s", unknown).isEqualTo(400);
    assertOpenAiError(unknown, "unknown_provider");
  }

  @Test
  void aLocalAliasStillNeedsPrivateNetworksAllowed() throws Exception {
    ThinkProxyServer server = start("--port", "0",
        "--provider", "local=http://127.0.0.1:" + upstream.getPort() + "/v1");

    RawHttp.Response r = RawHttp.postJson(server.port(), "/proxy/local/v1/chat/completions", REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(403);
    assertOpenAiError(r, "target_refused");
    assertUpstreamSawNothing();
  }

  @ParameterizedTest
  @ValueSource(strings = {"--provider=api.example.com=https://example.com/v1", "--provider=x=ftp://example.com",
      "--provider=noequals", "--aliases-only --no-builtin-providers"})
  void invalidProviderFlagsStopTheServerNamingTheSetting(String flags) {
    List<String> args = new ArrayList<>(List.of("--port", "0"));
    args.addAll(List.of(flags.split(" ")));

    assertThatThrownBy(() -> start(args.toArray(String[]::new)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageMatching("(?s).*(provider|aliases-only).*");
  }

  // ---- security flags -----------------------------------------------------------------------------------

  @Test
  void proxyKeyFlagRefusesRequestsWithoutTheKeyWith401() throws Exception {
    ThinkProxyServer server = startPermissive("--proxy-key", "tp-secret");

    RawHttp.Response none = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);
    RawHttp.Response wrong = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY, "X-Thinkproxy-Key: tp-secreT");

    assertThat(none.status()).as("%s", none).isEqualTo(401);
    assertOpenAiError(none, "invalid_proxy_key");
    assertThat(wrong.status()).as("%s", wrong).isEqualTo(401);
    assertUpstreamSawNothing();
  }

  @Test
  void proxyKeyFileKeysAreAcceptedAndTheKeyNeverReachesTheUpstream(@TempDir Path dir) throws Exception {
    Path keys = Files.writeString(dir.resolve("keys.txt"), "# team keys\n\ntp-alice\ntp-bob\n");
    ThinkProxyServer server = startPermissive("--proxy-key-file", keys.toString());
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY, "X-Thinkproxy-Key: tp-bob");

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    RecordedRequest sent = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(sent.getHeaders().get("X-Thinkproxy-Key")).isNull();
    assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer sk-raw");
  }

  @Test
  void caFileFlagTrustsAPrivateCaForUpstreamTls(@TempDir Path dir) throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate cert = new HeldCertificate.Builder()
        .signedBy(ca).addSubjectAlternativeName("127.0.0.1").build();
    upstream.close();
    upstream = new MockWebServer();
    upstream.useHttps(new HandshakeCertificates.Builder()
        .heldCertificate(cert, ca.certificate()).build().sslSocketFactory());
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    upstream.enqueue(Sse.thinkStream());
    Path pem = Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    ThinkProxyServer server = startPermissive("--ca-file", pem.toString());
    String target = "/proxy/https://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";

    RawHttp.Response r = RawHttp.postJson(server.port(), target, REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(Sse.read(r.bodyText(), "reasoning_content").content()).isEqualTo(Sse.ANSWER);
  }

  @Test
  void corsOriginFlagsLetBrowserAppsOnEachOriginPassThePreflight() throws Exception {
    ThinkProxyServer server = startPermissive("--cors-origin", "https://app.example",
        "--cors-origin", "http://localhost:5173", "--cors-max-age", "90s");

    for (String origin : List.of("https://app.example", "http://localhost:5173")) {
      RawHttp.Response r = preflight(server, origin);

      assertThat(r.status()).as("%s", r).isEqualTo(204);
      assertThat(r.header("Access-Control-Allow-Origin")).isEqualTo(origin);
      assertThat(r.header("Access-Control-Allow-Headers")).isEqualTo("authorization, content-type, x-thinkproxy-key");
      assertThat(r.header("Access-Control-Max-Age")).isEqualTo("90");
    }
    RawHttp.Response other = preflight(server, "https://other.example");
    assertThat(other.status()).as("%s", other).isEqualTo(403);
    assertOpenAiError(other, "cors_not_allowed");
    assertUpstreamSawNothing();
  }

  @Test
  void withoutCorsFlagsAPreflightIsForwardedAndGetsNoCorsHeaders() throws Exception {
    ThinkProxyServer server = startPermissive();
    upstream.enqueue(new MockResponse.Builder().code(204).addHeader("Access-Control-Allow-Origin", "*").build());

    RawHttp.Response r = preflight(server, "https://app.example");

    assertThat(r.header("Access-Control-Allow-Origin")).isNull();
    assertThat(upstream.takeRequest(10, TimeUnit.SECONDS).getMethod()).isEqualTo("OPTIONS");
  }

  @Test
  void wildcardCorsOriginWithCredentialsStopsTheServerNamingBothOptions() {
    assertThatThrownBy(() -> start("--port", "0", "--cors-origin", "*", "--cors-allow-credentials"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cors-origin")
        .hasMessageContaining("cors-allow-credentials");
  }

  @Test
  void corsOriginWithAPathStopsTheServerNamingTheValue() {
    assertThatThrownBy(() -> start("--port", "0", "--cors-origin", "https://app.example/chat"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cors-origin")
        .hasMessageContaining("https://app.example/chat");
  }

  /** A preflight as a browser sends it before a chat request with a bearer token and a proxy key. */
  private RawHttp.Response preflight(ThinkProxyServer server, String origin) throws IOException {
    return RawHttp.exchange(server.port(), "OPTIONS " + chatPath() + " HTTP/1.1\r\n"
        + "Host: 127.0.0.1:" + server.port() + "\r\n"
        + "Accept: */*\r\n"
        + "Access-Control-Request-Method: POST\r\n"
        + "Access-Control-Request-Headers: authorization,content-type,x-thinkproxy-key\r\n"
        + "Origin: " + origin + "\r\n"
        + "Sec-Fetch-Mode: cors\r\n"
        + "Connection: close\r\n\r\n", new byte[0]);
  }

  @ParameterizedTest
  @ValueSource(strings = {"--ca-file=/nonexistent/ca.pem", "--proxy-key-file=/nonexistent/keys",
      "--max-concurrent-requests=0", "--proxy-key-header=Authorization", "--max-response-buffer-bytes=-1"})
  void invalidSecurityFlagsStopTheServerFromStarting(String flag) {
    assertThatThrownBy(() -> start("--port", "0", flag))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  private static void assertOpenAiError(RawHttp.Response r, String expectedCode) throws IOException {
    assertThat(r.header("Content-Type")).as("Content-Type of %s", r).startsWith("application/json");
    JsonNode error = r.json().path("error");
    assertThat(error.isObject()).as("error object in %s", r.bodyText()).isTrue();
    assertThat(error.path("message").isTextual()).as("error.message in %s", r.bodyText()).isTrue();
    assertThat(error.path("message").asText()).isNotBlank();
    assertThat(error.path("type").isTextual()).as("error.type in %s", r.bodyText()).isTrue();
    assertThat(error.has("code")).as("error.code in %s", r.bodyText()).isTrue();
    if (expectedCode != null) {
      assertThat(error.path("code").asText()).isEqualTo(expectedCode);
    }
  }

  /**
   * Asserts that no request reached the upstream: nothing is recorded, and a canary sent straight to it afterwards
   * is the first request it ever saw.
   */
  private void assertUpstreamSawNothing() throws Exception {
    assertThat(upstream.getRequestCount()).as("requests at the upstream").isZero();
    upstream.enqueue(new MockResponse.Builder().body("canary").build());
    // MockWebServer keeps connections open whatever the request says, so not RawHttp (which reads to EOF).
    HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + upstream.getPort() + "/canary")).build(),
        HttpResponse.BodyHandlers.discarding());
    RecordedRequest first = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(first.getTarget()).as("the first request the upstream saw").isEqualTo("/canary");
  }
}
