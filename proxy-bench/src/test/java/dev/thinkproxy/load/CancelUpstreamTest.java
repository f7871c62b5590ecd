package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The cancel run's upstream and client talking to each other directly, without a proxy in between. */
class CancelUpstreamTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static CancelUpstream upstream;
  private static InetSocketAddress address;

  @BeforeAll
  static void start() throws IOException {
    upstream = CancelUpstream.start(Duration.ofMillis(20));
    address = new InetSocketAddress(InetAddress.getLoopbackAddress(), upstream.port());
  }

  @AfterAll
  static void stop() {
    upstream.close();
  }

  @Test
  void streamIdIsTheSegmentAfterTheMarker() {
    assertThat(CancelUpstream.streamId("POST " + CancelUpstream.path("mid-fin-7") + " HTTP/1.1"))
        .isEqualTo("mid-fin-7");
    assertThat(CancelUpstream.streamId("POST /s/abc/v1/chat/completions?x=1 HTTP/1.1")).isEqualTo("abc");
    assertThat(CancelUpstream.streamId("POST /v1/chat/completions HTTP/1.1")).isNull();
    assertThat(CancelUpstream.streamId("POST /s//v1/chat/completions HTTP/1.1")).isNull();
    assertThat(CancelUpstream.streamId("POST /s/abc HTTP/1.1")).isNull();
    assertThat(CancelUpstream.streamId("garbage")).isNull();
  }

  @Test
  void tickingStreamSeesTheClientsFinAfterItLeft() throws Exception {
    assertClosedAfterLeaving("ticking-fin", CancelUpstream.Behaviour.TICKING, CancelClient.Moment.FIRST_EVENT, false);
  }

  @Test
  void tickingStreamSeesTheClientsReset() throws Exception {
    assertClosedAfterLeaving("ticking-rst", CancelUpstream.Behaviour.TICKING, CancelClient.Moment.FIRST_EVENT, true);
  }

  @Test
  void silentStreamSeesTheClientLeaveAfterTheOneEvent() throws Exception {
    assertClosedAfterLeaving("one-event", CancelUpstream.Behaviour.ONE_EVENT, CancelClient.Moment.FIRST_EVENT, false);
  }

  @Test
  void unansweredRequestIsSignalledThenTheCloseSeen() throws Exception {
    assertClosedAfterLeaving("no-answer", CancelUpstream.Behaviour.NO_ANSWER,
        CancelClient.Moment.REQUEST_AT_UPSTREAM, false);
  }

  @Test
  void requestSentByteByByteIsReadToTheEndOfItsBody() throws Exception {
    CancelUpstream.Stream stream = upstream.expect("bytes", CancelUpstream.Behaviour.ONE_EVENT);
    try (Socket s = new Socket()) {
      s.setTcpNoDelay(true);
      s.connect(address);
      OutputStream out = s.getOutputStream();
      for (byte b : CancelClient.request(address, CancelUpstream.path("bytes"))) {
        out.write(b);
        out.flush();
      }
      stream.requestRead().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      // The head and body arrive over as many reads as there are bytes; the answer still follows the body.
      String answer = readUntil(s.getInputStream(), "tick");
      assertThat(answer).startsWith("HTTP/1.1 200 OK\r\n").contains("Transfer-Encoding: chunked")
          .contains(CancelUpstream.EVENT);
    } finally {
      upstream.forget("bytes");
    }
    assertThat(stream.closedAt().get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isPositive();
  }

  @Test
  void unknownStreamGetsNotFound() {
    CancelUpstream.Stream other = upstream.expect("known", CancelUpstream.Behaviour.TICKING);
    try {
      assertThatThrownBy(() -> CancelClient.leave(address, CancelUpstream.path("unknown"),
          CancelClient.Moment.FIRST_EVENT, false, other, WAIT))
          .isInstanceOf(IOException.class).hasMessageStartingWith("HTTP 404");
      assertThat(other.requestRead()).isNotDone();
    } finally {
      upstream.forget("known");
    }
  }

  @Test
  void closingTheUpstreamEndsOpenStreamsWithoutATime() throws Exception {
    try (CancelUpstream own = CancelUpstream.start(Duration.ofMillis(20));
        Socket s = new Socket(InetAddress.getLoopbackAddress(), own.port())) {
      InetSocketAddress ownAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), own.port());
      CancelUpstream.Stream stream = own.expect("open", CancelUpstream.Behaviour.NO_ANSWER);
      s.getOutputStream().write(CancelClient.request(ownAddress, CancelUpstream.path("open")));
      stream.requestRead().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      own.close();
      assertThatThrownBy(() -> stream.closedAt().get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
          .isInstanceOf(ExecutionException.class).hasMessageContaining("upstream shut down");
    }
  }

  private static void assertClosedAfterLeaving(String id, CancelUpstream.Behaviour behaviour,
      CancelClient.Moment moment, boolean reset) throws Exception {
    CancelUpstream.Stream stream = upstream.expect(id, behaviour);
    try {
      long t0 = CancelClient.leave(address, CancelUpstream.path(id), moment, reset, stream, WAIT);
      assertThat(stream.requestRead()).isDone();
      long closed = stream.closedAt().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(closed).isGreaterThanOrEqualTo(t0);
    } finally {
      upstream.forget(id);
    }
  }

  private static String readUntil(InputStream in, String marker) throws IOException {
    StringBuilder sb = new StringBuilder();
    byte[] buf = new byte[4096];
    while (!sb.toString().contains(marker)) {
      int n = in.read(buf);
      if (n < 0) {
        break;
      }
      sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
    }
    return sb.toString();
  }
}
