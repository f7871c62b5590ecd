package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ExchangeInfo;
import dev.thinkproxy.ProxyListener;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.examples.gateway.ModelRoutingGateway;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ModelRoutingGateway} on the JDK's HTTP server with proxy-core alone (no servlet container): two
 * MockWebServer upstreams stand for two providers, and a request's model picks one.
 */
class ModelRoutingGatewayIT {
  /** Guards against hangs only; when things work every wait here ends within milliseconds. */
  private static final long HANG_GUARD_SECONDS = 20;
  private static final int MAX_BODY_BYTES = 16 * 1024;

  private MockWebServer deepseek;
  private MockWebServer other;
  private ChatCompletionProxy proxy;
  private ModelRoutingGateway gateway;
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private final CountDownLatch releaseUpstream = new CountDownLatch(1);

  @BeforeEach
  void start() throws IOException {
    deepseek = new MockWebServer();
    deepseek.start(InetAddress.getByName("127.0.0.1"), 0);
    other = new MockWebServer();
    other.start(InetAddress.getByName("127.0.0.1"), 0);
    proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder()
            .allowHost("127.0.0.1:" + deepseek.getPort())
            .allowHost("127.0.0.1:" + other.getPort())
            .build())
        .maxBodyBytes(MAX_BODY_BYTES)
        // A failing test's stalled upstream ends at the hang guard, not at the default 300 s.
        .idleTimeout(Duration.ofSeconds(HANG_GUARD_SECONDS))
        // Short, so that a client that left is noticed at once during the stall of the disconnect test.
        .heartbeatInterval(Duration.ofMillis(200))
        .addListener(new ProxyListener() {
          @Override
          public void cancelled(ExchangeInfo exchange) {
            cancelled.countDown();
          }
        })
        .build();
    String deepseekUrl = "http://127.0.0.1:" + deepseek.getPort() + "/v1";
    String otherUrl = "http://127.0.0.1:" + other.getPort() + "/v1";
    gateway = ModelRoutingGateway.start(new InetSocketAddress("127.0.0.1", 0), proxy,
        model -> model.startsWith("deepseek") ? deepseekUrl : otherUrl);
  }

  @AfterEach
  void stop() {
    releaseUpstream.countDown();
    gateway.close();
    proxy.close();
    deepseek.close();
    other.close();
  }

  private static String chatRequest(String model, boolean stream) {
    return "{\"model\":\"" + model + "\",\"stream\":" + stream
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  }

  @Test
  void routesByModelAndAddsTheGatewayHeader() throws Exception {
    deepseek.enqueue(Sse.thinkCompletion());
    other.enqueue(Sse.thinkCompletion());

    RawHttp.Response toDeepseek = RawHttp.postJson(gateway.port(), "/v1/chat/completions",
        chatRequest("deepseek-reasoner", false));
    RawHttp.Response toOther = RawHttp.postJson(gateway.port(), "/v1/chat/completions?trace=1",
        chatRequest("qwen3-32b", false));

    for (RawHttp.Response r : List.of(toDeepseek, toOther)) {
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      JsonNode message = r.json().path("choices").path(0).path("message");
      assertThat(message.path("reasoning_content").asText()).isEqualTo(Sse.REASONING);
      assertThat(message.path("content").asText()).isEqualTo(Sse.ANSWER);
    }
    RecordedRequest atDeepseek = deepseek.takeRequest(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    RecordedRequest atOther = other.takeRequest(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    assertThat(atDeepseek.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(RawHttp.JSON.readTree(atDeepseek.getBody().utf8()).path("model").asText())
        .isEqualTo("deepseek-reasoner");
    assertThat(atOther.getTarget()).isEqualTo("/v1/chat/completions?trace=1");
    assertThat(RawHttp.JSON.readTree(atOther.getBody().utf8()).path("model").asText()).isEqualTo("qwen3-32b");
    for (RecordedRequest upstreamRequest : List.of(atDeepseek, atOther)) {
      assertThat(upstreamRequest.getHeaders().get(ModelRoutingGateway.GATEWAY_HEADER)).isEqualTo("thinkproxy");
      assertThat(upstreamRequest.getHeaders().get("Authorization")).isEqualTo("Bearer sk-raw");
    }
    assertThat(deepseek.getRequestCount()).isEqualTo(1);
    assertThat(other.getRequestCount()).isEqualTo(1);
  }

  @Test
  void splitStreamArrivesEventByEvent() throws Exception {
    // The upstream sends each event only after the client has received the one before: a gateway that held
    // events back would stall it, and the test would fail at the upstream's guard. Each event is complete in
    // itself (no tag cut across events, which the proxy rightly holds back until it can tell), so each one
    // comes out as one event at once.
    Semaphore receivedByClient = new Semaphore(0);
    List<String> upstreamEvents = new ArrayList<>();
    for (String piece : List.of("", "<think>" + Sse.REASONING + "</think>", "The answer", " is 42.")) {
      upstreamEvents.add(Sse.chunkEvent(piece, null));
    }
    upstreamEvents.add(Sse.chunkEvent(null, "stop"));
    upstreamEvents.add("data: [DONE]\n\n");
    deepseek.enqueue(Sse.chunkedStream(sink -> {
      for (String event : upstreamEvents) {
        Sse.writeChunk(sink, event);
        if (!receivedByClient.tryAcquire(HANG_GUARD_SECONDS, TimeUnit.SECONDS)) {
          throw new IOException("the client did not receive an event before the next one was due");
        }
      }
    }));
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    URI chat = URI.create("http://127.0.0.1:" + gateway.port() + "/v1/chat/completions");
    HttpRequest request = HttpRequest.newBuilder(chat)
        .header("Authorization", "Bearer sk-test")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(chatRequest("deepseek-r1", true)))
        .build();

    StringBuilder received = new StringBuilder();
    HttpResponse<Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
    try (Stream<String> lines = response.body()) {
      Iterator<String> it = lines.iterator();
      while (it.hasNext()) {
        String line = it.next();
        received.append(line).append('\n');
        if (line.startsWith("data:")) {
          receivedByClient.release();
        }
      }
    }

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
        type -> assertThat(type).startsWith("text/event-stream"));
    Sse.Received got = Sse.read(received.toString(), "reasoning_content");
    assertThat(got.rawDataLines()).hasSameSizeAs(upstreamEvents);
    assertThat(got.reasoning()).isEqualTo(Sse.REASONING);
    assertThat(got.content()).isEqualTo(Sse.ANSWER);
    assertThat(got.done()).isTrue();
    assertThat(other.getRequestCount()).isZero();
  }

  @Test
  void requestWithoutModelGets400FromTheGateway() throws Exception {
    RawHttp.Response r = RawHttp.postJson(gateway.port(), "/v1/chat/completions",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

    assertThat(r.status()).as("%s", r).isEqualTo(400);
    assertThat(r.header("Content-Type")).isEqualTo("application/json");
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("model_required");
    assertThat(deepseek.getRequestCount() + other.getRequestCount()).isZero();
  }

  @Test
  void otherPathsGet404FromTheGateway() throws Exception {
    RawHttp.Response r = RawHttp.postJson(gateway.port(), "/v1/embeddings", chatRequest("deepseek-r1", false));

    assertThat(r.status()).as("%s", r).isEqualTo(404);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("not_found");
    assertThat(deepseek.getRequestCount()).isZero();
  }

  @Test
  void bodyOverTheLimitGets413FromTheGateway() throws Exception {
    String big = chatRequest("deepseek-r1", false).replace("\"hi\"", "\"" + "x".repeat(MAX_BODY_BYTES) + "\"");

    RawHttp.Response r = RawHttp.postJson(gateway.port(), "/v1/chat/completions", big);

    assertThat(r.status()).as("%s", r).isEqualTo(413);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("request_too_large");
    assertThat(deepseek.getRequestCount()).isZero();
  }

  @Test
  void clientThatGoesAwayCancelsTheUpstreamCall() throws Exception {
    deepseek.enqueue(Sse.chunkedStream(sink -> {
      Sse.writeChunk(sink, Sse.chunkEvent("", null));
      // Stalls until the test ends: only the client going away can end this exchange.
      releaseUpstream.await(3 * HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    }));
    byte[] body = chatRequest("deepseek-r1", true).getBytes(StandardCharsets.UTF_8);

    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(HANG_GUARD_SECONDS));
      OutputStream out = socket.getOutputStream();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      InputStream in = socket.getInputStream();
      String line;
      do {
        line = RawHttp.readLine(in);
      } while (line != null && !line.contains("data:"));
      assertThat(line).as("the first event reached the client").isNotNull();
    }

    assertThat(cancelled.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("upstream call cancelled").isTrue();
    assertThat(proxy.awaitIdle(Duration.ofSeconds(HANG_GUARD_SECONDS))).isTrue();
  }
}
