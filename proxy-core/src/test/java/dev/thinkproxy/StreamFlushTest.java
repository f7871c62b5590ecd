package dev.thinkproxy;

import static dev.thinkproxy.ScriptedUpstream.chunk;
import static dev.thinkproxy.ScriptedUpstream.endChunks;
import static dev.thinkproxy.ScriptedUpstream.eventStreamHead;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the proxy flushes the client's stream over an HTTP/1.1 upstream: before it waits for more of the answer,
 * so every event reaches the client as soon as the proxy has nothing else to do, and not after every upstream
 * chunk, so chunks that arrived together leave in one write.
 *
 * <p>The upstream waits for the test to see a flush before it sends more; those latches only run out when a
 * test fails.
 */
class StreamFlushTest {
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
  void eachEventIsFlushedBeforeTheProxyWaitsForTheNextOne() throws Exception {
    FlushRecordingSink sink = new FlushRecordingSink();
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      for (int i = 0; i < 3; i++) {
        chunk(out, Chunks.event(Chunks.content("word" + i + " ")));
        // The next event comes only once this one has been flushed to the client.
        sink.awaitFlushedContaining("word" + i);
      }
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy();

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(Sse.clientText(sink.body()).get(0).content()).isEqualTo("word0 word1 word2 ");
    assertThat(sink.flushes()).hasSizeGreaterThanOrEqualTo(3);
  }

  @Test
  void eventsThatArriveTogetherLeaveInOneFlushInTheirOrder() throws Exception {
    int events = 50;
    FlushRecordingSink sink = new FlushRecordingSink();
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      // Fifty chunks in one write: they reach the proxy's socket together.
      ByteArrayOutputStream burst = new ByteArrayOutputStream();
      for (int i = 0; i < events; i++) {
        chunk(burst, Chunks.event(Chunks.content(i + ",")));
      }
      out.write(burst.toByteArray());
      out.flush();
      sink.awaitFlushedContaining((events - 1) + ",");
      chunk(out, "data: [DONE]\n\n");
      endChunks(out);
    });
    proxy = proxy();

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < events; i++) {
      expected.append(i).append(',');
    }
    assertThat(Sse.clientText(sink.body()).get(0).content()).isEqualTo(expected.toString());
    // A flush per upstream chunk would be 50 or more; the burst takes one, or a few if the kernel split it.
    assertThat(sink.flushes()).hasSizeLessThan(10);
  }

  @Test
  void aBodyRelayedByteForByteIsAlsoFlushedBeforeTheProxyWaits() throws Exception {
    FlushRecordingSink sink = new FlushRecordingSink();
    upstream = new ScriptedUpstream((socket, out) -> {
      out.write("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
          .getBytes(ISO_8859_1));
      chunk(out, "{\"line\":1}\n");
      sink.awaitFlushedContaining("{\"line\":1}");
      chunk(out, "{\"line\":2}\n");
      endChunks(out);
    });
    proxy = proxy();

    proxy.forward(chatRequest(), sink);
    sink.done.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(sink.text()).isEqualTo("{\"line\":1}\n{\"line\":2}\n");
  }

  @Test
  void aFlushThatFindsTheClientGoneCancelsTheUpstreamCallWithoutWaitingForAHeartbeat() throws Exception {
    upstream = new ScriptedUpstream((socket, out) -> {
      eventStreamHead(out);
      chunk(out, Chunks.event(Chunks.content("the last words anyone reads")));
      ScriptedUpstream.stallUntilClosed(socket);
    });
    proxy = upstream.proxyBuilder()
        .heartbeatInterval(Duration.ZERO)
        .idleTimeout(Duration.ofMinutes(10))
        .build();
    RecordingSink sink = new RecordingSink() {
      @Override
      public void flush() throws IOException {
        throw new IOException("Broken pipe");
      }
    };

    proxy.forward(chatRequest(), sink);

    assertThat(upstream.peerClosed.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(sink.done).failsWithin(Duration.ofSeconds(WAIT_SECONDS));
    assertThat(proxy.awaitIdle(Duration.ofSeconds(WAIT_SECONDS))).isTrue();
  }

  /** Records what had been written at each flush, and lets the upstream wait for a flush. */
  private static final class FlushRecordingSink extends RecordingSink {
    private final List<String> flushes = new ArrayList<>();
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();

    @Override
    public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
      super.write(bytes, offset, length);
      written.write(bytes, offset, length);
    }

    @Override
    public synchronized void flush() {
      if (written.size() > 0) {
        flushes.add(written.toString(UTF_8));
        written.reset();
        notifyAll();
      }
    }

    synchronized List<String> flushes() {
      return new ArrayList<>(flushes);
    }

    synchronized void awaitFlushedContaining(String text) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      while (flushes.stream().noneMatch(f -> f.contains(text))) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("no flush brought \"" + text + "\" to the client; flushes: " + flushes);
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }
  }

  private ChatCompletionProxy proxy() {
    return upstream.proxyBuilder().build();
  }

  private ProxyRequest chatRequest() {
    return upstream.streamingChatRequest();
  }
}
