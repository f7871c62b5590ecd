package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code shutdownGracefully()} (what SIGTERM runs) lets a running stream finish with every event and
 * {@code [DONE]}, while new requests are turned away instead of being accepted.
 *
 * <p>The upstream streams an event every 200 ms (its own pacing, not the test's synchronisation) and in the
 * middle stops at a gate the test opens only after it has checked how the server treats a new connection, so the
 * stream is known to be in flight during that check whatever the machine's speed.
 */
class GracefulShutdownIT {
  // Its own threads: the common pool may have a single worker on a small machine, which the in-flight request holds.
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private static final int EVENTS = 10;
  private static final int GATE_AFTER = 3;
  /** Guards against hangs only; when things work every wait here ends within a few seconds. */
  private static final long HANG_GUARD_SECONDS = 20;
  /** How long a new connection may stay unanswered during the grace period before it counts as left hanging. */
  private static final long NEWCOMER_GUARD_SECONDS = 10;

  private MockWebServer upstream;
  private ThinkProxyServer server;
  private final CountDownLatch upstreamAtGate = new CountDownLatch(1);
  private final CountDownLatch openGate = new CountDownLatch(1);
  private CompletableFuture<Void> shutdown;

  @BeforeEach
  void setUp() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    server = ThinkProxyServer.start("--port", "0", "--allow-private-networks", "--shutdown-grace", "60s");
  }

  @AfterEach
  void tearDown() throws Exception {
    openGate.countDown();
    if (shutdown != null) {
      shutdown.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    }
    server.close();
    upstream.close();
    threads.shutdownNow();
  }

  /** Upstream pieces: a leading think block, then numbered answer pieces. */
  private static List<String> pieces() {
    List<String> p = new ArrayList<>();
    p.add("");
    p.add("<think>slow thought</think>");
    for (int i = 0; p.size() < EVENTS; i++) {
      p.add("part" + i + " ");
    }
    return p;
  }

  private MockResponse slowStream() {
    List<String> pieces = pieces();
    return Sse.chunkedStream(sink -> {
      for (int i = 0; i < pieces.size(); i++) {
        Sse.writeChunk(sink, Sse.chunkEvent(pieces.get(i), null));
        if (i == GATE_AFTER) {
          upstreamAtGate.countDown();
          if (!openGate.await(3 * HANG_GUARD_SECONDS, TimeUnit.SECONDS)) {
            throw new IOException("the test never opened the gate");
          }
        }
        Thread.sleep(200);
      }
      Sse.writeChunk(sink, Sse.chunkEvent(null, "stop"));
      Sse.writeChunk(sink, "data: [DONE]\n\n");
    });
  }

  @Test
  void runningStreamFinishesAndNewRequestsAreTurnedAway() throws Exception {
    upstream.enqueue(slowStream());
    String chat = "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";
    String request = "{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}";

    CompletableFuture<RawHttp.Response> inFlight = CompletableFuture.supplyAsync(() -> {
      try {
        return RawHttp.postJson(server.port(), chat, request);
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    }, threads);
    assertThat(upstreamAtGate.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("the upstream stream started").isTrue();
    assertThat(server.proxy().activeExchanges()).isEqualTo(1);

    int port = server.port();
    shutdown = CompletableFuture.runAsync(server::shutdownGracefully, threads);
    awaitPaused();

    // A new client while the stream is still running: refused, or answered 503, but not left hanging.
    CompletableFuture<String> newcomer = CompletableFuture.supplyAsync(() -> attempt(port, chat, request), threads);
    String outcome;
    try {
      outcome = newcomer.get(NEWCOMER_GUARD_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      outcome = "no answer within " + NEWCOMER_GUARD_SECONDS + " s while the running stream was held open";
    }
    assertThat(inFlight).as("the running stream is still open while the newcomer is checked").isNotDone();
    openGate.countDown();

    RawHttp.Response streamed = inFlight.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    assertThat(streamed.status()).as("%s", streamed).isEqualTo(200);
    Sse.Received got = Sse.read(streamed.bodyText(), "reasoning_content");
    assertThat(got.reasoning()).isEqualTo("slow thought");
    assertThat(got.content()).isEqualTo(String.join("", pieces().subList(2, EVENTS)));
    assertThat(got.done()).as("[DONE] arrived").isTrue();
    assertThat(got.rawDataLines()).noneMatch(d -> d.contains("\"error\""));

    shutdown.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    assertThat(server.proxy().activeExchanges()).isZero();

    // What became of a newcomer left hanging, once the server had stopped (for the failure message).
    String eventually = newcomer.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    assertThat(outcome)
        .as("a new request during the graceful shutdown (after the shutdown completed it ended as: %s)", eventually)
        .isIn("refused", "status 503");

    assertThat(attempt(port, chat, request)).as("a request after the shutdown").isEqualTo("refused");
  }

  /** One request on a new connection, summarised: "status N", "refused", or how it failed. */
  private static String attempt(int port, String target, String body) {
    try {
      return "status " + RawHttp.postJson(port, target, body).status();
    } catch (ConnectException e) {
      return "refused";
    } catch (SocketException e) {
      return "connection reset without an answer (" + e.getMessage() + ")";
    } catch (IOException e) {
      return "failed without an answer (" + e.getMessage() + ")";
    }
  }

  /** Spins (without sleeping) until the connector has been paused by shutdownGracefully(). */
  private void awaitPaused() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
    while (!server.paused()) {
      if (System.nanoTime() > deadline) {
        fail("shutdownGracefully() never paused the connector");
      }
      Thread.onSpinWait();
    }
  }
}
