package dev.thinkproxy;

import static dev.thinkproxy.ScriptedUpstream.chunk;
import static dev.thinkproxy.ScriptedUpstream.endChunks;
import static dev.thinkproxy.ScriptedUpstream.eventStreamHead;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Streams under faults and silences, against a raw-socket upstream: the first-byte, idle and total timeouts,
 * heartbeats and what they detect, an upstream that breaks off or simply ends, and the threads that read.
 *
 * <p>Waits use latches with generous bounds that only run out when a test fails; the upstream's own pauses are
 * its behaviour, not synchronisation.
 */
class StreamReliabilityTest {
  private static final long WAIT_SECONDS = 20;
  private ChatCompletionProxy proxy;
  private ScriptedUpstream upstream;

  @AfterEach
  void tearDown() throws IOException {
    if (proxy != null) {
      proxy.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void noResponseHeadersWithinTheFirstByteTimeoutGives504AndClosesTheUpstreamConnection() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> ScriptedUpstream.stallUntilClosed(socket));
    proxy = proxy(b -> b.firstByteTimeout(Duration.ofMillis(300)).idleTimeout(Duration.ofSeconds(30)));

    RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

    assertThat(sink.status()).isEqualTo(504);
    JsonNode error = Sse.MAPPER.readTree(sink.body()).get("error");
    assertThat(error.get("code").asText()).isEqualTo("upstream_timeout");
    assertThat(error.get("message").asText()).contains("first-byte timeout");
    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void silenceLongerThanTheIdleTimeoutEndsTheStreamWithAnErrorEventAfterTheHeldText() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      // "<thi" may be the start of a tag, so the proxy holds it back until it knows.
      chunk(out, event(Chunks.content("<think>plan<thi")));
      ScriptedUpstream.stallUntilClosed(socket);
    });
    proxy = proxy(b -> b.idleTimeout(Duration.ofMillis(300)).heartbeatInterval(Duration.ZERO));

    RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

    List<Sse.Event> events = Sse.parse(sink.body());
    assertThat(Sse.clientText(sink.body()).get(0).reasoning()).isEqualTo("plan<thi");
    JsonNode last = Sse.MAPPER.readTree(events.get(events.size() - 1).data());
    assertThat(last.at("/error/code").asText()).isEqualTo("upstream_timeout");
    assertThat(last.at("/error/message").asText()).contains("idle timeout");
    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aHealthyStreamLongerThanTheIdleTimeoutIsNotCut() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      for (int i = 0; i < 15; i++) {
        chunk(out, event(Chunks.content("t" + i + " ")));
        Thread.sleep(100); // the upstream's own pace: 1.5 s in all, 100 ms apart
      }
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy(b -> b.idleTimeout(Duration.ofMillis(400)).firstByteTimeout(Duration.ofMillis(400)));

    RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

    assertThat(sink.text()).endsWith("data: [DONE]\n\n").doesNotContain("\"error\"");
    assertThat(Sse.clientText(sink.body()).get(0).content()).startsWith("t0 t1").contains("t14");
  }

  @Test
  void theTotalTimeoutEndsAnEndlessStreamWithAnErrorEvent() throws Exception {
    CountDownLatch stop = new CountDownLatch(1);
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      while (!stop.await(50, TimeUnit.MILLISECONDS)) {
        chunk(out, event(Chunks.content("x")));
      }
    });
    proxy = proxy(b -> b.totalTimeout(Duration.ofMillis(500)));
    try {
      RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

      List<Sse.Event> events = Sse.parse(sink.body());
      assertThat(events.size()).isGreaterThan(1);
      JsonNode last = Sse.MAPPER.readTree(events.get(events.size() - 1).data());
      assertThat(last.at("/error/message").asText()).contains("total timeout");
      assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    } finally {
      stop.countDown();
    }
  }

  @Test
  void heartbeatsFillASilenceBetweenEventsAndTheStreamGoesOnAfterIt() throws Exception {
    CountDownLatch heartbeatsSeen = new CountDownLatch(3);
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>a")));
      heartbeatsSeen.await(WAIT_SECONDS, TimeUnit.SECONDS);
      chunk(out, event(Chunks.content("b</think>c")));
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(100)).idleTimeout(Duration.ofSeconds(30)));
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        super.write(bytes, offset, length);
        if (new String(bytes, offset, length, UTF_8).equals(": keep-alive\n\n")) {
          heartbeatsSeen.countDown();
        }
      }
    };

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    String text = sink.text();
    assertThat(text.split(": keep-alive\n\n", -1).length - 1).isGreaterThanOrEqualTo(3);
    // Heartbeats sit between whole events: without them the stream parses to the same events.
    byte[] withoutHeartbeats = text.replace(": keep-alive\n\n", "").getBytes(UTF_8);
    assertThat(Sse.clientText(withoutHeartbeats).get(0).reasoning()).isEqualTo("ab");
    assertThat(Sse.clientText(withoutHeartbeats).get(0).content()).isEqualTo("c");
    assertThat(text).endsWith("data: [DONE]\n\n");
  }

  @Test
  void aHeartbeatThatCannotBeWrittenCancelsTheSilentUpstreamCall() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>thinking silently from here")));
      ScriptedUpstream.stallUntilClosed(socket);
    });
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(100)).idleTimeout(Duration.ofSeconds(30)));
    AtomicInteger writes = new AtomicInteger();
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        super.write(bytes, offset, length);
        // The first write (the event) reaches the client; then the client is gone.
        if (writes.incrementAndGet() > 1) {
          throw new IOException("Broken pipe");
        }
      }
    };
    proxy.forward(chatRequest(), sink);

    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(sink.done).failsWithin(Duration.ofSeconds(WAIT_SECONDS));
    assertThat(proxy.awaitIdle(Duration.ofSeconds(WAIT_SECONDS))).isTrue();
  }

  @Test
  void anUpstreamSlowToAnswerAStreamingRequestGetsTheClientsStreamStartedWithHeartbeats() throws Exception {
    CountDownLatch heartbeatsSeen = new CountDownLatch(2);
    upstream = new ScriptedUpstream((socket, out) -> {
      heartbeatsSeen.await(WAIT_SECONDS, TimeUnit.SECONDS);
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>r</think>a")));
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(100)).idleTimeout(Duration.ofSeconds(30)));
    RecordingSink sink = countingHeartbeats(heartbeatsSeen);

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(sink.status()).isEqualTo(200);
    assertThat(sink.header("Content-Type")).isEqualTo("text/event-stream");
    assertThat(sink.text()).startsWith(": keep-alive\n\n").endsWith("data: [DONE]\n\n");
    assertThat(Sse.clientText(sink.body()).get(0).reasoning()).isEqualTo("r");
    assertThat(Sse.clientText(sink.body()).get(0).content()).isEqualTo("a");
  }

  @Test
  void anErrorStatusAfterTheProxyStartedTheStreamArrivesAsOneErrorEventWithTheUpstreamsMessage() throws Exception {
    CountDownLatch heartbeatsSeen = new CountDownLatch(1);
    upstream = new ScriptedUpstream((socket, out) -> {
      heartbeatsSeen.await(WAIT_SECONDS, TimeUnit.SECONDS);
      byte[] body = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit\"}}".getBytes(UTF_8);
      out.write(("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: "
          + body.length + "\r\n\r\n").getBytes(UTF_8));
      out.write(body);
      out.flush();
    });
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(100)).idleTimeout(Duration.ofSeconds(30)));
    RecordingSink sink = countingHeartbeats(heartbeatsSeen);

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(sink.status()).isEqualTo(200);
    List<Sse.Event> events = Sse.parse(sink.body()).stream().filter(e -> e.data() != null).toList();
    assertThat(events).hasSize(1);
    JsonNode error = Sse.MAPPER.readTree(events.get(0).data()).get("error");
    assertThat(error.get("message").asText()).contains("HTTP 429").contains("Rate limit reached");
  }

  @Test
  void aNonStreamingRequestIsNotStartedEarlyAndStillGets504() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> ScriptedUpstream.stallUntilClosed(socket));
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(50)).firstByteTimeout(Duration.ofMillis(400)));

    RecordingSink sink = RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.port() + "/v1/chat/completions")
        .body("{\"model\":\"m\",\"stream\":false}".getBytes(UTF_8))
        .build());

    assertThat(sink.status()).isEqualTo(504);
    assertThat(sink.text()).doesNotContain("keep-alive");
  }

  @Test
  void aClientGoneBeforeTheUpstreamAnsweredIsFoundByTheEarlyHeartbeatsAndTheCallCanceled() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> ScriptedUpstream.stallUntilClosed(socket));
    proxy = proxy(b -> b.heartbeatInterval(Duration.ofMillis(100)).idleTimeout(Duration.ofSeconds(30)));
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        throw new IOException("Broken pipe");
      }
    };
    proxy.forward(chatRequest(), sink);

    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(proxy.awaitIdle(Duration.ofSeconds(WAIT_SECONDS))).isTrue();
  }

  @Test
  void anEventCutOffByAResetArrivesAsCommentsAfterTheHeldTextThenOneErrorEvent() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>r<")));
      chunk(out, "data: {\"id\":\"cut-here");
      socket.setSoLinger(true, 0);
      socket.close();
    });
    proxy = proxy(b -> b);

    RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

    String text = sink.text();
    assertThat(Sse.clientText(sink.body()).get(0).reasoning()).isEqualTo("r<");
    assertThat(text).contains(": data: {\"id\":\"cut-here\n");
    assertThat(text.indexOf("\"r<\"")).isLessThan(text.indexOf(": data: {\"id\":\"cut-here"));
    List<Sse.Event> events = Sse.parse(sink.body());
    assertThat(events).filteredOn(e -> e.data().contains("\"error\"")).hasSize(1);
    assertThat(events.get(events.size() - 1).data()).contains("upstream_unreachable");
  }

  @Test
  void anUpstreamThatEndsCleanlyWithoutDoneEndsTheStreamCleanly() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>r</think>answer")));
      endChunks(out);
    });
    proxy = proxy(b -> b);

    RecordingSink sink = RecordingSink.forward(proxy, chatRequest());

    assertThat(sink.text()).doesNotContain("\"error\"").doesNotContain("[DONE]");
    assertThat(Sse.clientText(sink.body()).get(0).content()).isEqualTo("answer");
  }

  @Test
  void theModeOffStillFramesEventsSoAFaultEndsWithAnIntactErrorEvent() throws Exception {
    String first = event(Chunks.content("<think>r</think>a"));
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, first + "data: {\"half");
      socket.setSoLinger(true, 0);
      socket.close();
    });
    proxy = proxy(b -> b);

    RecordingSink sink = RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.port() + "/v1/chat/completions")
        .addHeader(ChatCompletionProxy.MODE_HEADER, "off")
        .body("{\"stream\":true}".getBytes(UTF_8))
        .build());

    String text = sink.text();
    assertThat(text).startsWith(first + ": data: {\"half\ndata: {\"error\"");
    assertThat(text).endsWith("}}\n\n");
  }

  @Test
  void closingTheProxyEndsARunningStreamWithAnErrorEventAndReleasesTheUpstream() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, event(Chunks.content("<think>still thinking")));
      ScriptedUpstream.stallUntilClosed(socket);
    });
    proxy = proxy(b -> b);
    CountDownLatch relayed = new CountDownLatch(1);
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        super.write(bytes, offset, length);
        relayed.countDown();
      }
    };
    proxy.forward(chatRequest(), sink);
    assertThat(relayed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();

    proxy.close();

    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);
    List<Sse.Event> events = Sse.parse(sink.body());
    assertThat(events.get(events.size() - 1).data()).contains("proxy_shutting_down");
    assertThat(Sse.clientText(sink.body()).get(0).reasoning()).isEqualTo("still thinking");
    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(proxy.awaitIdle(Duration.ofSeconds(WAIT_SECONDS))).isTrue();
  }

  @Test
  @EnabledForJreRange(min = JRE.JAVA_21)
  void upstreamResponsesAreReadOnVirtualThreadsWhereTheRuntimeHasThem() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy(b -> b);
    AtomicReference<Thread> writer = new AtomicReference<>();
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        writer.set(Thread.currentThread());
        super.write(bytes, offset, length);
      }
    };

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat((boolean) Thread.class.getMethod("isVirtual").invoke(writer.get())).isTrue();
  }

  @Test
  @EnabledForJreRange(max = JRE.JAVA_20)
  void upstreamResponsesAreReadOnDaemonPlatformThreadsOnOlderRuntimes() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy(b -> b);
    CompletableFuture<Thread> writer = new CompletableFuture<>();
    RecordingSink sink = new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        writer.complete(Thread.currentThread());
        super.write(bytes, offset, length);
      }
    };

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(writer.get().isDaemon()).isTrue();
  }

  private interface Configure {
    ChatCompletionProxy.Builder apply(ChatCompletionProxy.Builder b);
  }

  private static RecordingSink countingHeartbeats(CountDownLatch heartbeats) {
    return new RecordingSink() {
      @Override
      public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        super.write(bytes, offset, length);
        if (new String(bytes, offset, length, UTF_8).equals(": keep-alive\n\n")) {
          heartbeats.countDown();
        }
      }
    };
  }

  private ChatCompletionProxy proxy(Configure configure) {
    return configure.apply(upstream.proxyBuilder()).build();
  }

  private ProxyRequest chatRequest() {
    return upstream.streamingChatRequest();
  }

  private static String event(String json) {
    return "data: " + json + "\n\n";
  }
}
