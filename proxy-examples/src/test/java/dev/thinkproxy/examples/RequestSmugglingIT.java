package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Stream;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Headers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Request smuggling and header hygiene through the real standalone server (embedded Tomcat, JSON error valve)
 * in front of a MockWebServer upstream on loopback, allowed with {@code --allow-host 127.0.0.1:PORT}.
 *
 * <p>Each smuggling attempt goes over a raw socket exactly as written, without {@code Connection: close}, and
 * carries a complete second request ({@code GET …/v1/smuggled}) where a parser that disagreed with the
 * front-end framing would find it. After the first response, if the server kept the connection open, a probe
 * ({@code GET /healthz}, {@code Connection: close}) follows on the same connection and everything is read until
 * the server closes it. The attempt is safe when the server either refuses it with a JSON 4xx or handles exactly
 * one well-defined request; when the connection carries no response but the probe's after that; and when the
 * upstream saw at most that one request, re-framed, and never the hidden one. A control test shows that a
 * second request which the server does parse is seen by both checks.
 */
class RequestSmugglingIT {
  private static final String LEGIT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  private static final String COMPLETION =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
      + "\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}";
  /** Guards against hangs only: every exchange here ends in milliseconds when things work. */
  private static final int HANG_GUARD_MILLIS = 20_000;

  private MockWebServer upstream;
  private ThinkProxyServer server;
  /** Every request the upstream received, recorded before it answers. */
  private final List<RecordedRequest> received = new CopyOnWriteArrayList<>();
  /** What the upstream answers; a plain chat completion unless a test says otherwise. */
  private volatile MockResponse reply = jsonReply(COMPLETION).build();

  @BeforeEach
  void start() throws IOException {
    upstream = new MockWebServer();
    upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        received.add(request);
        return reply;
      }
    });
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    server = ThinkProxyServer.start("--port", "0", "--allow-host", "127.0.0.1:" + upstream.getPort());
  }

  @AfterEach
  void stop() {
    server.close();
    upstream.close();
  }

  // ---- smuggling attempts -------------------------------------------------------------------------------

  /** How the server may answer an attempt. */
  enum Outcome {
    /** A 4xx with a JSON error; nothing reaches the upstream. */
    REFUSED,
    /** A 4xx, or 501 for a transfer coding the server does not implement (RFC 9112 6.1). */
    REFUSED_OR_NOT_IMPLEMENTED,
    /** Exactly one request, with the body the framing defines, reaches the upstream. */
    ONE_REQUEST,
    /** Lenient syntax (RFC 9112 2.2, 5.2): a server may refuse it or handle exactly one request. */
    ONE_REQUEST_OR_REFUSED,
    /**
     * Transfer-Encoding with Content-Length, or on HTTP/1.0 (RFC 9112 6.1): a server may refuse it or handle it
     * by Transfer-Encoding alone, and then must close the connection.
     */
    ONE_REQUEST_THEN_CLOSE_OR_REFUSED,
  }

  /**
   * One attempt: the raw bytes, how the server may answer, and the body the upstream must get if the request
   * is handled.
   */
  record Attempt(Function<Wire, String> bytes, Outcome outcome, Function<Wire, String> handledBody) {}

  /** Ports and pieces to build an attempt from. */
  record Wire(int proxyPort, int upstreamPort) {
    String chatTarget() {
      return "/proxy/http://127.0.0.1:" + upstreamPort + "/v1/chat/completions";
    }

    /** A complete request a confused parser would find after the first one. */
    String smuggled() {
      return "GET /proxy/http://127.0.0.1:" + upstreamPort + "/v1/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    }

    /** A POST of the chat request line and ordinary headers, then {@code headers}, then the blank line. */
    String head(String... headers) {
      StringBuilder b = new StringBuilder()
          .append("POST ").append(chatTarget()).append(" HTTP/1.1\r\n")
          .append("Host: 127.0.0.1:").append(proxyPort).append("\r\n")
          .append("Authorization: Bearer sk-smuggle\r\n")
          .append("Content-Type: application/json\r\n");
      for (String h : headers) {
        b.append(h).append("\r\n");
      }
      return b.append("\r\n").toString();
    }

    /** The legitimate body in one chunk, then the last chunk, then the hidden request. */
    String chunkedThenSmuggled() {
      return chunked(LEGIT) + smuggled();
    }
  }

  static Stream<Arguments> smugglingAttempts() {
    return Stream.of(
        // Content-Length and Transfer-Encoding together (CL.TE and TE.CL). RFC 9112 6.3: refuse, or honour the
        // chunked framing and close the connection after the response.
        attempt("Content-Length covering the hidden request + Transfer-Encoding: chunked",
            w -> w.head("Content-Length: " + w.chunkedThenSmuggled().length(), "Transfer-Encoding: chunked")
                + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("Content-Length: 4 + Transfer-Encoding: chunked",
            w -> w.head("Content-Length: 4", "Transfer-Encoding: chunked") + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("Transfer-Encoding: chunked before Content-Length: 4",
            w -> w.head("Transfer-Encoding: chunked", "Content-Length: 4") + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("Transfer-Encoding with a tab before its value + Content-Length",
            w -> w.head("Content-Length: " + w.chunkedThenSmuggled().length(), "Transfer-Encoding:\tchunked")
                + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("Transfer-Encoding: CHUNKED in upper case + Content-Length: 4",
            w -> w.head("Content-Length: 4", "transfer-encoding: CHUNKED") + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),

        // Two framings by Content-Length.
        attempt("two different Content-Lengths",
            w -> w.head("Content-Length: " + LEGIT.length(), "Content-Length: " + (LEGIT + w.smuggled()).length())
                + LEGIT + w.smuggled(),
            Outcome.REFUSED),
        attempt("two Content-Lengths in one list",
            w -> w.head("Content-Length: " + LEGIT.length() + ", " + (LEGIT + w.smuggled()).length())
                + LEGIT + w.smuggled(),
            Outcome.REFUSED),
        attempt("two equal Content-Lengths",
            w -> w.head("Content-Length: " + LEGIT.length(), "Content-Length: " + LEGIT.length()) + LEGIT,
            Outcome.REFUSED),
        attempt("Content-Length with a plus sign",
            w -> w.head("Content-Length: +" + LEGIT.length()) + LEGIT + w.smuggled(), Outcome.REFUSED),
        attempt("negative Content-Length", w -> w.head("Content-Length: -1") + LEGIT + w.smuggled(), Outcome.REFUSED),
        attempt("hexadecimal Content-Length",
            w -> w.head("Content-Length: 0x" + Integer.toHexString(LEGIT.length())) + LEGIT + w.smuggled(),
            Outcome.REFUSED),

        // Transfer codings other than a single final chunked.
        attempt("Transfer-Encoding: chunked, identity",
            w -> w.head("Transfer-Encoding: chunked, identity") + w.chunkedThenSmuggled(),
            Outcome.REFUSED_OR_NOT_IMPLEMENTED),
        attempt("Transfer-Encoding: identity, chunked",
            w -> w.head("Transfer-Encoding: identity, chunked") + w.chunkedThenSmuggled(),
            Outcome.REFUSED_OR_NOT_IMPLEMENTED),
        attempt("Transfer-Encoding: chunked twice",
            w -> w.head("Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + w.chunkedThenSmuggled(),
            Outcome.REFUSED_OR_NOT_IMPLEMENTED),
        attempt("unknown coding xchunked + Content-Length",
            w -> w.head("Content-Length: " + LEGIT.length(), "Transfer-Encoding: xchunked") + LEGIT + w.smuggled(),
            Outcome.REFUSED_OR_NOT_IMPLEMENTED),
        attempt("Transfer-Encoding on HTTP/1.0",
            w -> w.head("Transfer-Encoding: chunked").replace(" HTTP/1.1\r\n", " HTTP/1.0\r\n")
                + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),

        // Header syntax that parsers disagree on.
        attempt("space before the colon: 'Transfer-Encoding : chunked' + Content-Length",
            w -> w.head("Content-Length: " + w.chunkedThenSmuggled().length(), "Transfer-Encoding : chunked")
                + w.chunkedThenSmuggled(),
            Outcome.REFUSED),
        attempt("obs-fold continuation carrying chunked + Content-Length",
            w -> w.head("Content-Length: " + w.chunkedThenSmuggled().length(), "Transfer-Encoding:\r\n chunked")
                + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("obs-fold continuation of an ordinary header",
            w -> w.head("Content-Length: " + LEGIT.length(), "X-Folded: a\r\n b") + LEGIT,
            Outcome.ONE_REQUEST_OR_REFUSED),
        attempt("bare LF line endings",
            w -> w.head("Content-Length: " + LEGIT.length()).replace("\r\n", "\n") + LEGIT,
            Outcome.ONE_REQUEST_OR_REFUSED),
        attempt("bare LF inside a header line hiding Transfer-Encoding + Content-Length",
            w -> w.head("Content-Length: " + w.chunkedThenSmuggled().length(), "X-Foo: a\nTransfer-Encoding: chunked")
                + w.chunkedThenSmuggled(),
            Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED),
        attempt("NUL inside a header value",
            w -> w.head("Content-Length: " + LEGIT.length(), "X-Foo: a\u0000b") + LEGIT, Outcome.REFUSED),
        attempt("CR inside a header value",
            w -> w.head("Content-Length: " + LEGIT.length(), "X-Foo: a\rb") + LEGIT, Outcome.REFUSED),
        attempt("CR before the Transfer-Encoding value",
            w -> w.head("Content-Length: " + LEGIT.length(), "Transfer-Encoding: \rchunked") + LEGIT + w.smuggled(),
            Outcome.REFUSED),
        attempt("space inside a header name",
            w -> w.head("Content-Length: " + LEGIT.length(), "X Foo: bar") + LEGIT, Outcome.REFUSED),
        attempt("header larger than the server's limit",
            w -> w.head("Content-Length: " + LEGIT.length(), "X-Big: " + "a".repeat(20_000)) + LEGIT,
            Outcome.REFUSED),

        // Chunk syntax.
        attempt("chunk size with an extension",
            w -> w.head("Transfer-Encoding: chunked") + chunked(LEGIT).replaceFirst("\r\n", ";name=value\r\n"),
            Outcome.ONE_REQUEST),
        attempt("chunk size that is not hexadecimal",
            w -> w.head("Transfer-Encoding: chunked") + "zz\r\n" + LEGIT + "\r\n0\r\n\r\n" + w.smuggled(),
            Outcome.REFUSED),
        attempt("chunk size with a 0x prefix",
            w -> w.head("Transfer-Encoding: chunked") + "0x" + w.chunkedThenSmuggled(), Outcome.REFUSED),
        attempt("chunk size that overflows 64 bits",
            w -> w.head("Transfer-Encoding: chunked") + "1" + "0".repeat(16) + Integer.toHexString(LEGIT.length())
                + "\r\n" + LEGIT + "\r\n0\r\n\r\n" + w.smuggled(),
            Outcome.REFUSED),
        attempt("chunk size with a leading space",
            w -> w.head("Transfer-Encoding: chunked") + " " + w.chunkedThenSmuggled(), Outcome.REFUSED),

        // Request targets.
        attempt("absolute-form request-target naming another host",
            w -> w.head("Content-Length: " + LEGIT.length()).replaceFirst("^POST /", "POST http://evil.example/")
                + LEGIT,
            Outcome.REFUSED),
        attempt("absolute-form request-target using the proxy as a forward proxy to the upstream",
            w -> "POST http://127.0.0.1:" + w.upstreamPort() + "/v1/chat/completions HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + w.upstreamPort() + "\r\n"
                + "Content-Type: application/json\r\n"
                + "Content-Length: " + LEGIT.length() + "\r\n\r\n" + LEGIT,
            Outcome.REFUSED),

        // A whole second request inside the body the framing defines: it is data, forwarded once.
        attempt("a second request hidden in the body of the first",
            w -> w.head("Content-Length: " + (LEGIT + "\r\n" + w.smuggled()).length()) + LEGIT + "\r\n" + w.smuggled(),
            Outcome.ONE_REQUEST, w -> LEGIT + "\r\n" + w.smuggled()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("smugglingAttempts")
  void smugglingAttemptIsRefusedOrHandledAsExactlyOneRequest(Attempt attempt) throws Exception {
    Wire wire = new Wire(server.port(), upstream.getPort());

    List<Response> responses = sendAndProbe(attempt.bytes().apply(wire));

    assertThat(responses).as("responses on the connection").isNotEmpty();
    Response first = responses.get(0);
    int status = first.status();
    switch (attempt.outcome()) {
      case REFUSED -> assertThat(status).as("%s", first).isBetween(400, 499);
      case REFUSED_OR_NOT_IMPLEMENTED -> assertThat(status).as("%s", first)
          .satisfiesAnyOf(s -> assertThat(s).isBetween(400, 499), s -> assertThat(s).isEqualTo(501));
      case ONE_REQUEST -> assertThat(status).as("%s", first).isEqualTo(200);
      case ONE_REQUEST_OR_REFUSED, ONE_REQUEST_THEN_CLOSE_OR_REFUSED -> assertThat(status).as("%s", first)
          .satisfiesAnyOf(s -> assertThat(s).isBetween(400, 499), s -> assertThat(s).isEqualTo(200));
    }
    if (attempt.outcome() == Outcome.ONE_REQUEST_THEN_CLOSE_OR_REFUSED && status == 200) {
      assertThat(first.closes()).as("connection closed after %s", first).isTrue();
    }

    if (status >= 400) {
      assertJsonError(first);
      assertThat(received).as("requests at the upstream after a refusal").isEmpty();
    } else {
      assertThat(received).as("requests at the upstream").hasSize(1);
      RecordedRequest forwarded = received.get(0);
      assertThat(forwarded.getTarget()).isEqualTo("/v1/chat/completions");
      String expectedBody = attempt.handledBody().apply(wire);
      assertThat(forwarded.getBody().utf8()).as("the body the framing defines").isEqualTo(expectedBody);
      assertReframed(forwarded, expectedBody);
      assertThat(first.json().path("choices").path(0).path("message").path("content").asText()).isEqualTo("ok");
    }

    // Nothing else was parsed out of the bytes: after the first response comes only the probe's, if any.
    List<Response> rest = responses.subList(1, responses.size());
    if (first.closes()) {
      assertThat(rest).as("responses after one that closed the connection").isEmpty();
    } else {
      assertThat(rest).as("responses after the first: only the probe's").hasSize(1);
      assertThat(rest.get(0).status()).isEqualTo(200);
      assertThat(rest.get(0).json().path("status").asText()).as("%s", rest.get(0)).isEqualTo("ok");
    }
    assertThat(received).extracting(RecordedRequest::getTarget).as("targets at the upstream")
        .noneMatch(t -> t.contains("smuggled"));
  }

  @Test
  void aPipelinedSecondRequestThatTheServerDoesParseIsSeenByTheseChecks() throws Exception {
    // Control: the same hidden request, this time outside the first request's framing. Both the responses on the
    // connection and the upstream's log show it, so their silence above means no second request was parsed.
    Wire wire = new Wire(server.port(), upstream.getPort());

    List<Response> responses = sendAndProbe(wire.head("Content-Length: " + LEGIT.length()) + LEGIT + wire.smuggled());

    assertThat(responses).extracting(Response::status).containsExactly(200, 200, 200);
    assertThat(received).extracting(RecordedRequest::getTarget)
        .containsExactly("/v1/chat/completions", "/v1/smuggled");
  }

  // ---- header hygiene ---------------------------------------------------------------------------------------

  @Test
  void hopByHopForwardingCookieAndControlHeadersDoNotReachTheUpstream() throws Exception {
    int proxyPort = server.port();
    String head = "POST /proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions HTTP/1.1\r\n"
        + "Host: evil.example\r\n"
        + "Authorization: Bearer sk-client\r\n"
        + "Content-Type: application/json\r\n"
        + "Content-Length: " + LEGIT.length() + "\r\n"
        + "X-Forwarded-For: 10.0.0.1\r\n"
        + "X-Forwarded-Host: internal.example\r\n"
        + "X-Forwarded-Proto: https\r\n"
        + "Forwarded: for=10.0.0.1;host=internal.example;proto=https\r\n"
        + "X-Real-IP: 10.0.0.1\r\n"
        + "Via: 1.1 corporate-proxy\r\n"
        + "Cookie: session=s3cret\r\n"
        + "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
        + "Connection: keep-alive, X-Secret\r\n"
        + "X-Secret: 1\r\n"
        + "Keep-Alive: timeout=5\r\n"
        + "Proxy-Connection: keep-alive\r\n"
        + "TE: trailers\r\n"
        + "Upgrade: websocket\r\n"
        + "Trailer: X-Checksum\r\n"
        + "X-Thinkproxy-Mode: off\r\n"
        + "X-Thinkproxy-Implicit-Open: true\r\n"
        + "Accept-Encoding: br\r\n"
        + "Origin: https://attacker.example\r\n"
        + "OpenAI-Organization: org-123\r\n"
        + "\r\n";

    Response r;
    try (Socket socket = connect(proxyPort)) {
      socket.getOutputStream().write((head + LEGIT).getBytes(StandardCharsets.ISO_8859_1));
      r = Response.read(socket.getInputStream());
    }

    assertThat(r).isNotNull();
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(received).hasSize(1);
    Headers sent = received.get(0).getHeaders();
    assertThat(sent.get("Authorization")).isEqualTo("Bearer sk-client");
    assertThat(sent.get("Content-Type")).isEqualTo("application/json");
    assertThat(sent.get("OpenAI-Organization")).as("an ordinary header passes").isEqualTo("org-123");
    assertThat(sent.get("Host")).as("Host is derived from the upstream URL")
        .isEqualTo("127.0.0.1:" + upstream.getPort());
    for (String dropped : List.of("X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded",
        "X-Real-IP", "Via", "Cookie", "Proxy-Authorization", "X-Secret", "Keep-Alive", "Proxy-Connection", "TE",
        "Upgrade", "Trailer", "X-Thinkproxy-Mode", "X-Thinkproxy-Implicit-Open", "Origin")) {
      assertThat(sent.values(dropped)).as("%s at the upstream; all headers:%n%s", dropped, sent).isEmpty();
    }
    // OkHttp writes its own Connection and Accept-Encoding; neither may carry the client's values.
    assertThat(sent.values("Connection")).as("Connection at the upstream")
        .noneMatch(v -> v.toLowerCase(Locale.ROOT).contains("x-secret"));
    assertThat(sent.values("Accept-Encoding")).doesNotContain("br");
    assertThat(sent.get("Content-Length")).isEqualTo(Integer.toString(LEGIT.length()));
    assertThat(received.get(0).getBody().utf8()).isEqualTo(LEGIT);
  }

  static Stream<Arguments> upstreamAnswers() {
    return Stream.of(
        Arguments.of(Named.of("a chat completion (rewritten)", jsonReply(COMPLETION).code(200))),
        Arguments.of(Named.of("an event stream (rewritten event by event)", new MockResponse.Builder()
            .code(200)
            .setHeader("Content-Type", "text/event-stream")
            .body("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                + "\"delta\":{\"content\":\"ok\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n"))),
        Arguments.of(Named.of("a rate-limit error (passed through)", jsonReply(
            "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"code\":\"rate_limit_exceeded\"}}")
            .code(429))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("upstreamAnswers")
  void upstreamCookiesPinsAndHopByHopHeadersAreDroppedWhileRateLimitHeadersPass(MockResponse.Builder answer)
      throws Exception {
    reply = answer
        .addHeader("Set-Cookie", "session=upstream; Path=/")
        .addHeader("Set-Cookie", "tracker=1; Domain=127.0.0.1")
        .setHeader("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        .setHeader("Alt-Svc", "h3=\":443\"; ma=86400")
        .setHeader("Connection", "X-Upstream-Secret")
        .setHeader("X-Upstream-Secret", "internal")
        .setHeader("Keep-Alive", "timeout=99")
        .setHeader("Proxy-Authenticate", "Basic realm=upstream")
        .setHeader("Retry-After", "7")
        .setHeader("x-ratelimit-limit-requests", "60")
        .setHeader("x-ratelimit-remaining-tokens", "999")
        .setHeader("x-ratelimit-reset-requests", "1s")
        .setHeader("x-request-id", "req-abc")
        .build();
    int status = reply.getCode();
    assertThat(status).isIn(200, 429);

    RawHttp.Response r = RawHttp.postJson(server.port(),
        "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions", LEGIT);

    assertThat(r.status()).as("%s", r).isEqualTo(status);
    for (String dropped : List.of("Set-Cookie", "Strict-Transport-Security", "Alt-Svc", "X-Upstream-Secret",
        "Proxy-Authenticate")) {
      assertThat(r.header(dropped)).as("%s at the client; %s", dropped, r).isNull();
    }
    assertThat(r.headers().getOrDefault("keep-alive", List.of())).doesNotContain("timeout=99");
    assertThat(r.headers().getOrDefault("connection", List.of()))
        .noneMatch(v -> v.toLowerCase(Locale.ROOT).contains("x-upstream-secret"));
    assertThat(r.header("Retry-After")).isEqualTo("7");
    assertThat(r.header("x-ratelimit-limit-requests")).isEqualTo("60");
    assertThat(r.header("x-ratelimit-remaining-tokens")).isEqualTo("999");
    assertThat(r.header("x-ratelimit-reset-requests")).isEqualTo("1s");
    assertThat(r.header("x-request-id")).isEqualTo("req-abc");
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  private static Arguments attempt(String name, Function<Wire, String> bytes, Outcome outcome) {
    return attempt(name, bytes, outcome, w -> LEGIT);
  }

  private static Arguments attempt(String name, Function<Wire, String> bytes, Outcome outcome,
      Function<Wire, String> handledBody) {
    return Arguments.of(Named.of(name, new Attempt(bytes, outcome, handledBody)));
  }

  private static MockResponse.Builder jsonReply(String json) {
    return new MockResponse.Builder().setHeader("Content-Type", "application/json").body(json);
  }

  /** {@code body} as one chunk followed by the last chunk. */
  private static String chunked(String body) {
    return Integer.toHexString(body.getBytes(StandardCharsets.UTF_8).length) + "\r\n" + body + "\r\n0\r\n\r\n";
  }

  private static Socket connect(int port) throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setSoTimeout(HANG_GUARD_MILLIS);
    return socket;
  }

  /**
   * Sends {@code raw} as written, reads the first response, then (unless that response closed the connection)
   * sends the health probe with {@code Connection: close}, and reads every further response until the server
   * closes the connection.
   */
  private List<Response> sendAndProbe(String raw) throws IOException {
    List<Response> responses = new ArrayList<>();
    try (Socket socket = connect(server.port())) {
      OutputStream out = socket.getOutputStream();
      out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      Response first = Response.read(in);
      if (first == null) {
        return responses;
      }
      responses.add(first);
      if (!first.closes()) {
        out.write(("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
      for (Response next = Response.read(in); next != null; next = Response.read(in)) {
        responses.add(next);
      }
    }
    return responses;
  }

  private static void assertJsonError(Response r) throws IOException {
    assertThat(r.header("content-type")).as("Content-Type of %s", r).startsWith("application/json");
    JsonNode error = r.json().path("error");
    assertThat(error.isObject()).as("error object in %s", r).isTrue();
    assertThat(error.path("message").asText()).as("error.message in %s", r).isNotBlank();
    assertThat(error.path("type").isTextual()).as("error.type in %s", r).isTrue();
    assertThat(error.path("code").isTextual()).as("error.code in %s", r).isTrue();
  }

  /** The upstream request is framed by the proxy (Content-Length of the real body), never by copied headers. */
  private static void assertReframed(RecordedRequest forwarded, String body) {
    assertThat(forwarded.getHeaders().values("Transfer-Encoding")).as("Transfer-Encoding at the upstream").isEmpty();
    assertThat(forwarded.getHeaders().values("Content-Length"))
        .containsExactly(Integer.toString(body.getBytes(StandardCharsets.UTF_8).length));
  }

  /** One HTTP/1.1 response read off a connection: framed by Content-Length, chunked, or the end of the stream. */
  record Response(String statusLine, int status, Map<String, String> headers, byte[] body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    boolean closes() {
      String c = header("connection");
      return c != null && c.toLowerCase(Locale.ROOT).contains("close");
    }

    JsonNode json() throws IOException {
      return RawHttp.JSON.readTree(body);
    }

    @Override
    public String toString() {
      return statusLine + " " + headers + " " + new String(body, StandardCharsets.UTF_8);
    }

    /** The next response, or null when the server closed the connection before sending one. */
    static Response read(InputStream in) throws IOException {
      String statusLine = line(in);
      if (statusLine == null) {
        return null;
      }
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l = line(in); l != null && !l.isEmpty(); l = line(in)) {
        int colon = l.indexOf(':');
        headers.merge(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim(),
            (a, b) -> a + ", " + b);
      }
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        for (int size = chunkSize(in); size > 0; size = chunkSize(in)) {
          body.write(in.readNBytes(size));
          line(in);
        }
        for (String trailer = line(in); trailer != null && !trailer.isEmpty(); trailer = line(in)) {
          // trailers are not used here
        }
      } else if (headers.containsKey("content-length")) {
        body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
      } else {
        body.write(in.readAllBytes());
      }
      return new Response(statusLine, Integer.parseInt(statusLine.split(" ")[1]), headers, body.toByteArray());
    }

    private static int chunkSize(InputStream in) throws IOException {
      String l = line(in);
      if (l == null) {
        throw new IOException("the chunked response ended early");
      }
      int semi = l.indexOf(';');
      return Integer.parseInt((semi < 0 ? l : l.substring(0, semi)).trim(), 16);
    }

    /** One line without its CR LF (or bare LF), or null at the end of the stream. */
    private static String line(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      for (int c = in.read(); c != -1; c = in.read()) {
        if (c == '\n') {
          String s = b.toString(StandardCharsets.ISO_8859_1);
          return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
        b.write(c);
      }
      return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
