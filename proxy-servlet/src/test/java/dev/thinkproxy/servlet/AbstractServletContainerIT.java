package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.TargetPolicy;
import jakarta.servlet.http.HttpServlet;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The servlet's outside contract (DESIGN.md §4, §6), run in a real servlet container by each subclass: a real
 * HTTP client talks to the container on 127.0.0.1, the servlet forwards to a real local upstream (MockWebServer,
 * or a JDK {@link HttpServer} where a response has to stop half-way until the test lets it go on).
 *
 * <p>Two servlets are mounted: {@code /proxy/*} with a proxy that allows private networks (every upstream here
 * is on 127.0.0.1), and {@code /strict/*} with the default policy, which must refuse it.
 *
 * <p>Covered: think-tag splitting in streams and JSON, request forwarding (credentials, body, header hygiene),
 * upstream error passthrough, URL forms, bad and refused targets, streams outliving the container's async timeout,
 * 100 concurrent streams to one host, first event before the upstream finishes, client disconnect.
 *
 * <p>No test sleeps to synchronise: everything that waits uses a latch or a queue with a generous timeout that
 * fails the test when it runs out.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractServletContainerIT {
  /** Generous bound for anything that should happen "soon"; only reached when the test is failing. */
  static final Duration WAIT = Duration.ofSeconds(20);

  static final ObjectMapper JSON = new ObjectMapper();

  /** Exceptions that escaped any thread while this class ran; recorded from the start of the class. */
  static final Queue<Map.Entry<Thread, Throwable>> UNCAUGHT = new ConcurrentLinkedQueue<>();

  private Thread.UncaughtExceptionHandler previousHandler;

  private ChatCompletionProxy permissiveProxy;
  private ChatCompletionProxy strictProxy;
  private HttpClient http;
  private int port;
  MockWebServer upstream;

  /**
   * Starts the container on 127.0.0.1 with an ephemeral port, each servlet async-supported and mapped at
   * {@code mount + "/*"}.
   *
   * @return the port the container listens on
   */
  abstract int startContainer(Map<String, HttpServlet> servletsByMount) throws Exception;

  abstract void stopContainer() throws Exception;

  /**
   * Whether the container, as configured here, lets {@code %2F} in the path reach the servlet. Jetty with the
   * documented relaxed {@code UriCompliance} does; Tomcat's default {@code encodedSolidusHandling=reject} answers
   * 400 itself (DESIGN.md §6).
   */
  abstract boolean containerAcceptsEncodedSlash();

  /** How many events the stream that outlives the container's async timeout has, and how far apart they are. */
  abstract int longStreamEvents();

  abstract Duration longStreamInterval();

  private void recordUncaughtExceptions() {
    previousHandler = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
      UNCAUGHT.add(new SimpleImmutableEntry<>(thread, e));
      if (previousHandler != null) {
        previousHandler.uncaughtException(thread, e);
      } else {
        System.err.print("Exception in thread \"" + thread.getName() + "\" ");
        e.printStackTrace();
      }
    });
  }

  @BeforeAll
  void startContainerAndProxies() throws Exception {
    recordUncaughtExceptions();
    permissiveProxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
        .idleTimeout(Duration.ofSeconds(60))
        .build();
    strictProxy = ChatCompletionProxy.builder().idleTimeout(Duration.ofSeconds(60)).build();
    Map<String, HttpServlet> servlets = new LinkedHashMap<>();
    servlets.put("/proxy", new ChatCompletionProxyServlet(permissiveProxy));
    servlets.put("/strict", new ChatCompletionProxyServlet(strictProxy));
    port = startContainer(servlets);
    http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .proxy(HttpClient.Builder.NO_PROXY)
        .connectTimeout(WAIT)
        .build();
  }

  @AfterAll
  void stopAll() throws Exception {
    try {
      stopContainer();
    } finally {
      permissiveProxy.close();
      strictProxy.close();
      Thread.setDefaultUncaughtExceptionHandler(previousHandler);
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
  // 1. Streaming with the think tags split across events

  @Test
  void streamingMovesSplitThinkTagsIntoReasoningAndForwardsTheRequestUnchanged() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "text/event-stream; charset=utf-8")
        .body(chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
            + chunk(content("<th"), null)
            + chunk(content("ink>reason"), null)
            + chunk(content("ing</thi"), null)
            + chunk(content("nk>\n\nAnswer"), null)
            + chunk("{}", "stop")
            + "data: [DONE]\n\n")
        .build());
    // Odd spacing, a non-ASCII character and a trailing newline: must arrive byte for byte.
    byte[] body = ("{\"model\":\"test-model\",  \"stream\":true,\n \"messages\":[{\"role\":\"user\","
        + "\"content\":\"h\u00e9llo \u2713\"}]}\n").getBytes(UTF_8);

    EventStream stream = EventStream.open(http, HttpRequest.newBuilder(proxyUri(base() + "/v1/chat/completions"))
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .header("Cookie", "session=client-secret")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    HttpResponse.ResponseInfo info = stream.info();
    List<String> lines = stream.readToEnd(WAIT);

    assertThat(info.statusCode()).isEqualTo(200);
    assertThat(info.headers().firstValue("Content-Type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("text/event-stream"));
    Texts texts = Texts.of(lines);
    assertThat(texts.reasoning).isEqualTo("reasoning");
    assertThat(texts.content).isEqualTo("Answer");
    assertThat(texts.done).as("[DONE] reached the client").isTrue();
    assertThat(texts.errors).isEmpty();

    RecordedRequest recorded = takeUpstreamRequest();
    assertThat(recorded.getMethod()).isEqualTo("POST");
    assertThat(recorded.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(recorded.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    assertThat(recorded.getBody().toByteArray()).isEqualTo(body);
    assertThat(recorded.getHeaders().get("Cookie")).as("client cookie forwarded").isNull();
    assertThat(recorded.getHeaders().values("Host")).containsExactly("127.0.0.1:" + upstream.getPort());
  }

  // ---------------------------------------------------------------------------------------------------------
  // 2. Non-streaming JSON chat completion

  @Test
  void jsonCompletionMovesThinkBlockIntoReasoningContent() throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body("{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"test-model\","
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"<think>r</think>answer\"},"
            + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8}}")
        .build());

    HttpResponse<byte[]> response = send(HttpRequest.newBuilder(proxyUri(base() + "/v1/chat/completions"))
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"test-model\",\"messages\":[]}")));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode message = JSON.readTree(response.body()).path("choices").path(0).path("message");
    assertThat(message.path("reasoning_content").asText(null)).isEqualTo("r");
    assertThat(message.path("content").asText(null)).isEqualTo("answer");
    assertThat(message.path("role").asText(null)).isEqualTo("assistant");
    assertThat(JSON.readTree(response.body()).path("usage").path("total_tokens").asInt()).isEqualTo(8);
    assertThat(takeUpstreamRequest().getTarget()).isEqualTo("/v1/chat/completions");
  }

  // ---------------------------------------------------------------------------------------------------------
  // 3. Upstream errors pass through unchanged

  @Test
  void upstream401IsPassedThroughUnchanged() throws Exception {
    String error = "{\"error\":{\"message\":\"Incorrect API key provided: sk-test\",\"type\":\"invalid_request_error\","
        + "\"param\":null,\"code\":\"invalid_api_key\"}}\n";
    upstream.enqueue(new MockResponse.Builder()
        .code(401)
        .addHeader("Content-Type", "application/json")
        .addHeader("x-request-id", "req_401")
        .body(error)
        .build());

    HttpResponse<byte[]> response = send(chatRequest(proxyUri(base() + "/v1/chat/completions"), true));

    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(new String(response.body(), UTF_8)).isEqualTo(error);
    assertThat(response.headers().firstValue("x-request-id")).hasValue("req_401");
    assertThat(takeUpstreamRequest().getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
  }

  @Test
  void upstream429IsPassedThroughWithRateLimitHeaders() throws Exception {
    String error = "{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\","
        + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    upstream.enqueue(new MockResponse.Builder()
        .code(429)
        .addHeader("Content-Type", "application/json")
        .addHeader("Retry-After", "7")
        .addHeader("x-ratelimit-remaining-requests", "0")
        .addHeader("x-request-id", "req_429")
        .body(error)
        .build());

    HttpResponse<byte[]> response = send(chatRequest(proxyUri(base() + "/v1/chat/completions"), true));

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(response.headers().allValues("Retry-After")).containsExactly("7");
    assertThat(response.headers().allValues("x-ratelimit-remaining-requests")).containsExactly("0");
    assertThat(response.headers().allValues("x-request-id")).containsExactly("req_429");
    assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("application/json"));
    assertThat(new String(response.body(), UTF_8)).isEqualTo(error);
  }

  // ---------------------------------------------------------------------------------------------------------
  // 4. URL forms

  @Test
  void doubleSlashBaseUrlIsForwarded() throws Exception {
    assertChatCompletionForwarded("/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions",
        "/v1/chat/completions");
  }

  @Test
  void collapsedBaseUrlIsForwarded() throws Exception {
    assertChatCompletionForwarded("/proxy/http:/127.0.0.1:" + upstream.getPort() + "/v1/chat/completions",
        "/v1/chat/completions");
  }

  @Test
  void pathPrefixAndQueryAreKept() throws Exception {
    assertChatCompletionForwarded(
        "/proxy/http://127.0.0.1:" + upstream.getPort() + "/api/v1/chat/completions?x=1",
        "/api/v1/chat/completions?x=1");
  }

  @Test
  void percentEncodedBaseUrl() throws Exception {
    String path = "/proxy/http%3A%2F%2F127.0.0.1%3A" + upstream.getPort() + "/v1/chat/completions";
    if (containerAcceptsEncodedSlash()) {
      assertChatCompletionForwarded(path, "/v1/chat/completions");
    } else {
      // The container refuses %2F before the servlet runs (DESIGN.md §6); nothing may reach the upstream.
      RawResponse response = RawResponse.exchange(port, "POST", path, Map.of(
          "Authorization", "Bearer sk-test", "Content-Type", "application/json"), chatBody(false));
      assertThat(response.status).isEqualTo(400);
      assertThat(upstream.getRequestCount()).isZero();
    }
  }

  @Test
  void otherV1PathsArePassedThrough() throws Exception {
    String models = "{\"object\":\"list\",\"data\":[{\"id\":\"test-model\",\"object\":\"model\",\"owned_by\":\"x\"}]}";
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body(models)
        .build());

    HttpResponse<byte[]> response = send(HttpRequest.newBuilder(proxyUri(base() + "/v1/models"))
        .header("Authorization", "Bearer sk-test")
        .GET());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(new String(response.body(), UTF_8)).isEqualTo(models);
    RecordedRequest recorded = takeUpstreamRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/v1/models");
    assertThat(recorded.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
  }

  private void assertChatCompletionForwarded(String rawPath, String expectedUpstreamTarget) throws Exception {
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body("{\"id\":\"chatcmpl-4\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"test-model\","
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"<think>why</think>ok\"},"
            + "\"finish_reason\":\"stop\"}]}")
        .build());
    byte[] body = chatBody(false);

    HttpResponse<byte[]> response = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + rawPath))
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));

    assertThat(response.statusCode()).as("status for %s (body %s)", rawPath, new String(response.body(), UTF_8))
        .isEqualTo(200);
    JsonNode message = JSON.readTree(response.body()).path("choices").path(0).path("message");
    assertThat(message.path("content").asText(null)).isEqualTo("ok");
    assertThat(message.path("reasoning_content").asText(null)).isEqualTo("why");
    RecordedRequest recorded = takeUpstreamRequest();
    assertThat(recorded.getTarget()).isEqualTo(expectedUpstreamTarget);
    assertThat(recorded.getBody().toByteArray()).isEqualTo(body);
  }

  // ---------------------------------------------------------------------------------------------------------
  // 5. Bad targets

  @Test
  void nonHttpSchemeIsRejectedWith400Json() throws Exception {
    HttpResponse<byte[]> response = send(chatRequest(
        URI.create("http://127.0.0.1:" + port + "/proxy/ftp://x/v1/chat/completions"), false));

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("application/json"));
    JsonNode error = assertOpenAiError(response.body());
    assertThat(error.path("code").asText()).isEqualTo("invalid_target_url");
    assertThat(upstream.getRequestCount()).isZero();
  }

  @Test
  void defaultPolicyRefusesLoopbackUpstreamWith403Json() throws Exception {
    upstream.enqueue(new MockResponse.Builder().body("must not be fetched").build());

    HttpResponse<byte[]> response = send(chatRequest(
        URI.create("http://127.0.0.1:" + port + "/strict/http://127.0.0.1:" + upstream.getPort()
            + "/v1/chat/completions"), false));

    assertThat(response.statusCode()).isEqualTo(403);
    JsonNode error = assertOpenAiError(response.body());
    assertThat(error.path("code").asText()).isEqualTo("target_refused");
    assertThat(upstream.getRequestCount()).as("requests that reached the upstream").isZero();
  }

  private static JsonNode assertOpenAiError(byte[] body) throws IOException {
    JsonNode root = JSON.readTree(body);
    assertThat(root.size()).as("top-level fields of %s", new String(body, UTF_8)).isEqualTo(1);
    JsonNode error = root.path("error");
    assertThat(error.isObject()).as("error object in %s", new String(body, UTF_8)).isTrue();
    assertThat(error.path("message").isTextual()).isTrue();
    assertThat(error.path("message").asText()).isNotBlank();
    assertThat(error.path("type").isTextual()).isTrue();
    assertThat(error.path("code").isTextual()).isTrue();
    return error;
  }

  // ---------------------------------------------------------------------------------------------------------
  // 6. A stream longer than the container's async timeout

  /**
   * Tomcat's connector is given a 1 s default async timeout and the stream lasts ~3 s; Jetty's 30 s default cannot
   * be lowered from outside the servlet, so there the stream lasts ~32 s (this is the one slow test). Tomcat would
   * truncate the response at the timeout, Jetty would end it cleanly: either way [DONE] would be missing.
   */
  @Test
  void streamOutlastingTheContainerAsyncTimeoutIsNotCut() throws Exception {
    int events = longStreamEvents();
    StringBuilder sse = new StringBuilder();
    String first = chunk(content(String.format("tick-%02d;", 0)), null);
    for (int i = 0; i < events; i++) {
      sse.append(chunk(content(String.format("tick-%02d;", i)), null));
    }
    sse.append("data: [DONE]\n\n");
    // Every event has the same length, so the throttle releases one event per interval.
    upstream.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "text/event-stream")
        .body(sse.toString())
        .throttleBody(first.getBytes(UTF_8).length, longStreamInterval().toMillis(), TimeUnit.MILLISECONDS)
        .build());

    EventStream stream = EventStream.open(http, chatRequest(proxyUri(base() + "/v1/chat/completions"), true));
    assertThat(stream.info().statusCode()).isEqualTo(200);
    List<String> lines = stream.readToEnd(longStreamInterval().multipliedBy(events).plus(WAIT));

    Texts texts = Texts.of(lines);
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < events; i++) {
      expected.append(String.format("tick-%02d;", i));
    }
    assertThat(texts.content).isEqualTo(expected.toString());
    assertThat(texts.done).as("[DONE] reached the client").isTrue();
    assertThat(texts.errors).isEmpty();
  }

  // ---------------------------------------------------------------------------------------------------------
  // 7. Many concurrent streams to one upstream host

  @Test
  void hundredConcurrentStreamsToOneHostAllStartBeforeAnyFinishes() throws Exception {
    int streams = 100;
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger upstreamFinished = new AtomicInteger();
    AtomicInteger upstreamReleasedByTimeout = new AtomicInteger();
    try (BlockingUpstream server = new BlockingUpstream(exchange -> {
      OutputStream out = startEventStream(exchange);
      writeFlush(out, chunk("{\"role\":\"assistant\",\"content\":\"first\"}", null));
      if (!await(release, Duration.ofSeconds(90))) {
        upstreamReleasedByTimeout.incrementAndGet();
      }
      writeFlush(out, chunk(content(" second"), null) + chunk("{}", "stop") + "data: [DONE]\n\n");
      out.close();
      upstreamFinished.incrementAndGet();
    })) {
      List<EventStream> clients = new ArrayList<>();
      try {
        for (int i = 0; i < streams; i++) {
          clients.add(EventStream.open(http,
              chatRequest(proxyUri("http://127.0.0.1:" + server.port() + "/v1/chat/completions"), true)));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        for (int i = 0; i < streams; i++) {
          Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
          String data = clients.get(i).nextDataLine(left);
          assertThat(data).as("first event of stream %d", i).isNotNull();
          assertThat(Texts.of(List.of(data)).content).isEqualTo("first");
        }
        assertThat(upstreamFinished.get()).as("upstream streams finished before release").isZero();
        assertThat(server.requests.get()).isEqualTo(streams);
      } finally {
        release.countDown();
      }
      for (int i = 0; i < streams; i++) {
        Texts rest = Texts.of(clients.get(i).readToEnd(WAIT));
        assertThat(rest.content).as("rest of stream %d", i).isEqualTo(" second");
        assertThat(rest.done).isTrue();
        assertThat(rest.errors).isEmpty();
      }
      assertThat(upstreamReleasedByTimeout.get()).isZero();
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // 8. The first event reaches the client while the upstream is still sending

  @Test
  void firstEventReachesClientBeforeUpstreamFinishes() throws Exception {
    CountDownLatch clientHasFirstEvent = new CountDownLatch(1);
    CountDownLatch upstreamDone = new CountDownLatch(1);
    AtomicReference<Boolean> upstreamWasReleased = new AtomicReference<>();
    try (BlockingUpstream server = new BlockingUpstream(exchange -> {
      OutputStream out = startEventStream(exchange);
      writeFlush(out, chunk("{\"role\":\"assistant\",\"content\":\"Hello\"}", null));
      // Longer than the client's wait below, so a proxy that buffers fails on the client side first.
      upstreamWasReleased.set(await(clientHasFirstEvent, WAIT.multipliedBy(3)));
      writeFlush(out, chunk(content(" world"), null) + chunk("{}", "stop") + "data: [DONE]\n\n");
      out.close();
      upstreamDone.countDown();
    })) {
      EventStream stream = EventStream.open(http,
          chatRequest(proxyUri("http://127.0.0.1:" + server.port() + "/v1/chat/completions"), true));
      String first;
      try {
        first = stream.nextDataLine(WAIT);
        assertThat(Texts.of(List.of(first)).content).isEqualTo("Hello");
        assertThat(upstreamDone.getCount()).as("upstream still sending").isEqualTo(1);
      } finally {
        clientHasFirstEvent.countDown();
      }
      Texts rest = Texts.of(stream.readToEnd(WAIT));
      assertThat(rest.content).isEqualTo(" world");
      assertThat(rest.done).isTrue();
      assertThat(rest.errors).isEmpty();
      assertThat(upstreamWasReleased.get()).isTrue();
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // 9. A client that disconnects cancels the upstream call

  @Test
  void clientDisconnectCancelsUpstream() throws Exception {
    Disconnect d = disconnectMidStream();
    assertThat(d.upstreamNoticed).as("upstream noticed the proxy closed its connection").isTrue();
  }

  /**
   * The proxy thread that relayed the stream ends the exchange cleanly when the client goes away: no exception
   * escapes the sink into the HTTP client's thread (a container may already have completed and recycled the
   * response from its own error handling, DESIGN.md §6). Which thread gets there first is a race, so the
   * disconnect is repeated a few times.
   */
  @Test
  void clientDisconnectEndsTheExchangeWithoutUncaughtException() throws Exception {
    for (int attempt = 1; attempt <= 5; attempt++) {
      Disconnect d = disconnectMidStream();
      assertThat(d.upstreamNoticed).as("upstream noticed the proxy closed its connection").isTrue();
      awaitBackInPool(d.worker);
      assertThat(uncaughtIn(d.worker))
          .as("attempt %d: exceptions that escaped in the proxy's thread %s", attempt, d.worker)
          .isEmpty();
    }
  }

  private static final class Disconnect {
    boolean upstreamNoticed;
    Thread worker;
  }

  /** Starts a stream, reads its first event over a raw socket, closes the socket, and waits for the upstream. */
  private Disconnect disconnectMidStream() throws Exception {
    Disconnect d = new Disconnect();
    CountDownLatch upstreamWriteFailed = new CountDownLatch(1);
    CountDownLatch stop = new CountDownLatch(1);
    try (BlockingUpstream server = new BlockingUpstream(exchange -> {
      OutputStream out = startEventStream(exchange);
      try {
        writeFlush(out, chunk("{\"role\":\"assistant\",\"content\":\"Hello\"}", null));
        // One event every 100 ms (the wait doubles as the pacing); for at most a minute.
        for (int i = 0; i < 600 && !await(stop, Duration.ofMillis(100)); i++) {
          writeFlush(out, chunk(content(" more"), null));
        }
      } catch (UncheckedIOException e) {
        upstreamWriteFailed.countDown();
      }
    })) {
      try {
        String path = "/proxy/http://127.0.0.1:" + server.port() + "/v1/chat/completions";
        try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
          socket.setSoTimeout((int) WAIT.toMillis());
          byte[] body = chatBody(true);
          OutputStream out = socket.getOutputStream();
          out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
              + "Authorization: Bearer sk-test\r\nContent-Type: application/json\r\n"
              + "Content-Length: " + body.length + "\r\n\r\n").getBytes(UTF_8));
          out.write(body);
          out.flush();
          String received = RawResponse.readUntil(socket.getInputStream(), "Hello");
          assertThat(received).startsWith("HTTP/1.1 200");
          // OkHttp names the thread running a call after its URL while the call runs.
          String prefix = "OkHttp http://127.0.0.1:" + server.port() + "/";
          List<Thread> workers = Thread.getAllStackTraces().keySet().stream()
              .filter(t -> t.getName().startsWith(prefix))
              .toList();
          assertThat(workers).as("proxy threads relaying the stream").hasSize(1);
          d.worker = workers.get(0);
        }
        d.upstreamNoticed = upstreamWriteFailed.await(10, TimeUnit.SECONDS);
      } finally {
        stop.countDown();
      }
    }
    return d;
  }

  /**
   * Waits until {@code worker} has finished its call: it either died (an exception escaped its task) or is back
   * in its pool waiting for the next task.
   */
  private static void awaitBackInPool(Thread worker) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (worker.getState() != Thread.State.TERMINATED) {
      boolean idle = !worker.getName().startsWith("OkHttp http")
          && Arrays.stream(worker.getStackTrace()).anyMatch(
              f -> f.getClassName().equals(ThreadPoolExecutor.class.getName())
                  && f.getMethodName().equals("getTask"));
      if (idle) {
        return;
      }
      if (System.nanoTime() > deadline) {
        fail("the proxy thread did not finish the exchange within " + WAIT + ": " + worker);
      }
      worker.join(20); // returns at once if the thread dies
    }
  }

  private static List<Throwable> uncaughtIn(Thread thread) {
    List<Throwable> out = new ArrayList<>();
    for (Map.Entry<Thread, Throwable> e : UNCAUGHT) {
      if (e.getKey() == thread) {
        out.add(e.getValue());
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Helpers

  private String base() {
    return "http://127.0.0.1:" + upstream.getPort();
  }

  private URI proxyUri(String upstreamUrl) {
    return URI.create("http://127.0.0.1:" + port + "/proxy/" + upstreamUrl);
  }

  private RecordedRequest takeUpstreamRequest() throws InterruptedException {
    RecordedRequest r = upstream.takeRequest(WAIT.toSeconds(), TimeUnit.SECONDS);
    if (r == null) {
      fail("the upstream received no request");
    }
    return r;
  }

  private HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
    return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray())
        .get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  private static HttpRequest.Builder chatRequest(URI uri, boolean stream) {
    return HttpRequest.newBuilder(uri)
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(chatBody(stream)));
  }

  static byte[] chatBody(boolean stream) {
    return ("{\"model\":\"test-model\",\"stream\":" + stream
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").getBytes(UTF_8);
  }

  /** One SSE event holding a chat.completion.chunk with the given delta object. */
  static String chunk(String deltaJson, String finishReason) {
    return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        + "\"model\":\"test-model\",\"choices\":[{\"index\":0,\"delta\":" + deltaJson + ",\"finish_reason\":"
        + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}]}\n\n";
  }

  static String content(String text) {
    try {
      return "{\"content\":" + JSON.writeValueAsString(text) + "}";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static boolean await(CountDownLatch latch, Duration timeout) {
    try {
      return latch.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static OutputStream startEventStream(HttpExchange exchange) {
    try {
      exchange.getRequestBody().readAllBytes();
      exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
      exchange.sendResponseHeaders(200, 0);
      return exchange.getResponseBody();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void writeFlush(OutputStream out, String text) {
    try {
      out.write(text.getBytes(UTF_8));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The reasoning and content a client assembles from the {@code data:} lines of a stream, choice 0. */
  static final class Texts {
    final StringBuilder reasoningBuilder = new StringBuilder();
    final StringBuilder contentBuilder = new StringBuilder();
    String reasoning;
    String content;
    boolean done;
    final List<String> errors = new ArrayList<>();

    static Texts of(List<String> lines) throws IOException {
      Texts t = new Texts();
      for (String line : lines) {
        if (!line.startsWith("data:")) {
          continue;
        }
        String data = line.substring(5).strip();
        if (data.equals("[DONE]")) {
          t.done = true;
          continue;
        }
        JsonNode event = JSON.readTree(data);
        if (event.has("error")) {
          t.errors.add(data);
          continue;
        }
        for (JsonNode choice : event.path("choices")) {
          if (choice.path("index").asInt() != 0) {
            continue;
          }
          JsonNode delta = choice.path("delta");
          if (delta.path("reasoning_content").isTextual()) {
            t.reasoningBuilder.append(delta.path("reasoning_content").asText());
          }
          if (delta.path("content").isTextual()) {
            t.contentBuilder.append(delta.path("content").asText());
          }
        }
      }
      t.reasoning = t.reasoningBuilder.toString();
      t.content = t.contentBuilder.toString();
      return t;
    }
  }

  /**
   * A streaming response read with the JDK client as lines, as they arrive, into a queue: no reader thread per
   * stream, so a hundred of them are cheap.
   */
  static final class EventStream {
    private static final Object END = new Object();

    private final CompletableFuture<HttpResponse.ResponseInfo> info = new CompletableFuture<>();
    private final BlockingQueue<Object> lines = new LinkedBlockingQueue<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private boolean ended;

    static EventStream open(HttpClient http, HttpRequest.Builder request) {
      EventStream s = new EventStream();
      Flow.Subscriber<String> subscriber = new Flow.Subscriber<>() {
        @Override
        public void onSubscribe(Flow.Subscription subscription) {
          subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
          s.lines.add(line);
        }

        @Override
        public void onError(Throwable t) {
          s.failure.set(t);
          s.lines.add(END);
        }

        @Override
        public void onComplete() {
          s.lines.add(END);
        }
      };
      http.sendAsync(request.build(), responseInfo -> {
        s.info.complete(responseInfo);
        return HttpResponse.BodySubscribers.fromLineSubscriber(subscriber);
      }).whenComplete((r, t) -> {
        if (t != null) {
          s.info.completeExceptionally(t);
          s.failure.compareAndSet(null, t);
          s.lines.add(END);
        }
      });
      return s;
    }

    HttpResponse.ResponseInfo info() throws Exception {
      return info.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** The next {@code data:} line, skipping blank lines and other fields; fails on timeout or end of stream. */
    String nextDataLine(Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        Object line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (line == null) {
          fail("no data line within " + timeout);
        }
        if (line == END) {
          ended = true;
          fail("the stream ended before a data line arrived" + describeFailure());
        }
        if (((String) line).startsWith("data:")) {
          return (String) line;
        }
      }
    }

    /** Every remaining line up to a normal end of the response; fails on timeout or on a broken response. */
    List<String> readToEnd(Duration timeout) throws InterruptedException {
      List<String> out = new ArrayList<>();
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!ended) {
        Object line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (line == null) {
          fail("the stream did not end within " + timeout + "; received so far: " + out);
        }
        if (line == END) {
          ended = true;
          break;
        }
        out.add((String) line);
      }
      if (failure.get() != null) {
        fail("the response broke off" + describeFailure() + "; received: " + out);
      }
      return out;
    }

    private String describeFailure() {
      Throwable t = failure.get();
      return t == null ? "" : ": " + t;
    }
  }

  /** An HTTP/1.1 exchange over a raw socket, with {@code Connection: close}; no client-side URL handling at all. */
  static final class RawResponse {
    int status;
    final Map<String, List<String>> headers = new LinkedHashMap<>();
    byte[] body;

    static RawResponse exchange(int port, String method, String rawPath, Map<String, String> headers, byte[] body)
        throws IOException {
      try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
        socket.setSoTimeout((int) WAIT.toMillis());
        StringBuilder head = new StringBuilder(method + " " + rawPath + " HTTP/1.1\r\n")
            .append("Host: 127.0.0.1:").append(port).append("\r\n")
            .append("Connection: close\r\n")
            .append("Content-Length: ").append(body.length).append("\r\n");
        headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        head.append("\r\n");
        OutputStream out = socket.getOutputStream();
        out.write(head.toString().getBytes(UTF_8));
        out.write(body);
        out.flush();
        return parse(socket.getInputStream().readAllBytes());
      }
    }

    static RawResponse parse(byte[] raw) {
      String text = new String(raw, ISO_8859_1);
      int end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        fail("no complete response head in: " + text);
      }
      String[] headLines = text.substring(0, end).split("\r\n");
      RawResponse r = new RawResponse();
      r.status = Integer.parseInt(headLines[0].split(" ")[1]);
      for (int i = 1; i < headLines.length; i++) {
        int colon = headLines[i].indexOf(':');
        r.headers.computeIfAbsent(headLines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT),
            k -> new ArrayList<>()).add(headLines[i].substring(colon + 1).strip());
      }
      byte[] rest = Arrays.copyOfRange(raw, end + 4, raw.length);
      List<String> te = r.headers.getOrDefault("transfer-encoding", List.of());
      r.body = te.stream().anyMatch(v -> v.equalsIgnoreCase("chunked")) ? dechunk(rest) : rest;
      return r;
    }

    private static byte[] dechunk(byte[] in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int i = 0;
      while (i < in.length) {
        int lineEnd = indexOfCrlf(in, i);
        String sizeLine = new String(in, i, lineEnd - i, ISO_8859_1);
        int size = Integer.parseInt(sizeLine.split(";")[0].strip(), 16);
        if (size == 0) {
          break;
        }
        out.write(in, lineEnd + 2, size);
        i = lineEnd + 2 + size + 2;
      }
      return out.toByteArray();
    }

    private static int indexOfCrlf(byte[] in, int from) {
      for (int i = from; i + 1 < in.length; i++) {
        if (in[i] == '\r' && in[i + 1] == '\n') {
          return i;
        }
      }
      throw new IllegalStateException("truncated chunked body");
    }

    /** Reads until {@code marker} has been seen; fails if the connection ends or times out first. */
    static String readUntil(InputStream in, String marker) throws IOException {
      ByteArrayOutputStream seen = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      while (true) {
        int n = in.read(buffer);
        if (n < 0) {
          fail("connection ended before '" + marker + "': " + seen.toString(UTF_8));
        }
        seen.write(buffer, 0, n);
        String text = seen.toString(UTF_8);
        if (text.contains(marker)) {
          return text;
        }
      }
    }
  }

  /** A JDK HTTP server on 127.0.0.1 whose handlers may block mid-response, one thread per exchange. */
  static final class BlockingUpstream implements AutoCloseable {
    final AtomicInteger requests = new AtomicInteger();
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();

    BlockingUpstream(HttpHandler handler) throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 256);
      server.createContext("/", exchange -> {
        requests.incrementAndGet();
        try (exchange) {
          handler.handle(exchange);
        } catch (UncheckedIOException e) {
          // the proxy went away; the test observes that through its own latches
        }
      });
      server.setExecutor(executor);
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
      executor.shutdownNow();
    }
  }
}
