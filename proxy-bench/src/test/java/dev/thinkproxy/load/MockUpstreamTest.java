package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The mock's wire format and fault modes, observed with a plain socket and a decoder written for the test. */
class MockUpstreamTest {
  private static MockUpstream mock;

  @BeforeAll
  static void start() throws IOException {
    mock = MockUpstream.start(0);
  }

  @AfterAll
  static void stop() {
    mock.close();
  }

  /** What came over one connection and how it ended. */
  private record Wire(String head, byte[] body, String ending) {
    /** The HTTP chunks' payloads in order, and whether the last-chunk marker arrived. */
    Chunks chunks() {
      List<byte[]> payloads = new ArrayList<>();
      int i = 0;
      while (i < body.length) {
        int lineEnd = indexOf(body, "\r\n", i);
        if (lineEnd < 0) {
          return new Chunks(payloads, false, Arrays.copyOfRange(body, i, body.length));
        }
        int size = Integer.parseInt(new String(body, i, lineEnd - i, StandardCharsets.US_ASCII), 16);
        if (size == 0) {
          assertThat(new String(body, lineEnd, body.length - lineEnd, StandardCharsets.US_ASCII)).isEqualTo("\r\n\r\n");
          return new Chunks(payloads, true, new byte[0]);
        }
        int start = lineEnd + 2;
        if (start + size + 2 > body.length) {
          return new Chunks(payloads, false, Arrays.copyOfRange(body, i, body.length));
        }
        assertThat(new String(body, start + size, 2, StandardCharsets.US_ASCII)).isEqualTo("\r\n");
        payloads.add(Arrays.copyOfRange(body, start, start + size));
        i = start + size + 2;
      }
      return new Chunks(payloads, false, new byte[0]);
    }
  }

  private record Chunks(List<byte[]> payloads, boolean terminated, byte[] rest) {
    /** Each chunk must be exactly one event: {@code data: …\n\n}. */
    List<String> events() {
      List<String> events = new ArrayList<>();
      for (byte[] p : payloads) {
        String s = new String(p, StandardCharsets.UTF_8);
        assertThat(s).startsWith("data: ").endsWith("\n\n");
        assertThat(s.substring(0, s.length() - 2)).doesNotContain("\n");
        events.add(s.substring(6, s.length() - 2));
      }
      return events;
    }
  }

  @Test
  void streamsRoleThenContentWithThinkTagsThenFinishAndDone() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=10&size=5&reasoning=0.3", 5000);
    assertThat(w.head).startsWith("HTTP/1.1 200 OK\r\n").contains("Content-Type: text/event-stream\r\n")
        .contains("Transfer-Encoding: chunked\r\n");
    assertThat(w.ending).isEqualTo("eof");
    Chunks c = w.chunks();
    assertThat(c.terminated).isTrue();
    List<String> events = c.events();
    assertThat(events).hasSize(13);
    assertThat(events.get(0)).contains("\"delta\":{\"role\":\"assistant\"").contains("chat.completion.chunk");
    List<String> texts = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      assertThat(events.get(i)).contains("\"object\":\"chat.completion.chunk\"").contains("\"finish_reason\":null");
      texts.add(events.get(i).replaceAll(".*\"content\":\"([^\"]*)\".*", "$1"));
    }
    assertThat(texts.get(0)).startsWith("<think>").hasSize(5 + 7);
    assertThat(texts.get(2)).endsWith("</think>").hasSize(5 + 8);
    assertThat(texts.subList(3, 10)).allSatisfy(t -> assertThat(t).hasSize(5).doesNotContain("think>"));
    assertThat(texts.get(1)).hasSize(5);
    assertThat(events.get(11)).contains("\"finish_reason\":\"stop\"").contains("\"usage\":{")
        .contains("\"completion_tokens\":10");
    assertThat(events.get(12)).isEqualTo("[DONE]");
  }

  @Test
  void resetAfterKEvents() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=10&fault=reset@3", 5000);
    assertThat(w.ending).isEqualTo("reset");
    Chunks c = w.chunks();
    assertThat(c.events()).hasSize(3);
    assertThat(c.terminated).isFalse();
    assertThat(c.rest).isEmpty();
  }

  @Test
  void truncateClosesAfterKEventsWithoutTerminator() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=10&fault=truncate@4", 5000);
    assertThat(w.ending).isEqualTo("eof");
    Chunks c = w.chunks();
    assertThat(c.events()).hasSize(4);
    assertThat(c.terminated).isFalse();
    assertThat(c.rest).isEmpty();
  }

  @Test
  void partialSendsHalfAnEventThenResets() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=10&fault=partial@2", 5000);
    assertThat(w.ending).isEqualTo("reset");
    Chunks c = w.chunks();
    assertThat(c.events()).hasSize(2);
    assertThat(c.rest.length).isGreaterThan(20);
    assertThat(new String(c.rest, StandardCharsets.US_ASCII)).doesNotEndWith("\n\n\r\n");
  }

  @Test
  void stallKeepsTheSocketOpenUntilTheClientCloses() throws Exception {
    long before = mock.stats().faulted();
    Wire w = post("/v1/chat/completions?chunks=10&fault=stall@5", 400);
    assertThat(w.ending).isEqualTo("timeout");
    assertThat(w.chunks().events()).hasSize(5);
    assertThat(mock.stats().faulted()).isEqualTo(before + 1);
    // The test's socket is closed now: the mock notices and lets the connection go.
    awaitStats(s -> s.stalled() == 0);
  }

  @Test
  void garbageLineThenTheStreamGoesOn() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=6&fault=garbage@2", 5000);
    Chunks c = w.chunks();
    assertThat(c.terminated).isTrue();
    assertThat(c.payloads).hasSize(6 + 3 + 1);
    byte[] garbage = c.payloads.get(2);
    assertThat(new String(garbage, 0, 6, StandardCharsets.US_ASCII)).isEqualTo("data: ");
    assertThat(garbage[6]).isEqualTo((byte) 0xFF);
    for (int i = 6; i < garbage.length - 2; i++) {
      assertThat(garbage[i] & 0xff).isGreaterThanOrEqualTo(0x80);
    }
    assertThat(new String(c.payloads.get(3), StandardCharsets.UTF_8)).contains("\"content\":");
    assertThat(new String(c.payloads.get(9), StandardCharsets.UTF_8)).isEqualTo("data: [DONE]\n\n");
  }

  @Test
  void biglineMakesOneDataLineOfTheGivenSize() throws IOException {
    Wire w = post("/v1/chat/completions?chunks=4&reasoning=0&fault=bigline@2:100000", 5000);
    List<String> events = w.chunks().events();
    assertThat(events).hasSize(7);
    assertThat(("data: " + events.get(2)).getBytes(StandardCharsets.UTF_8)).hasSize(100_000);
    assertThat(events.get(2)).endsWith("\"},\"finish_reason\":null}]}");
  }

  @Test
  void delaysSpaceTheEvents() throws IOException {
    long t0 = System.nanoTime();
    Wire w = post("/v1/chat/completions?chunks=4&delay_ms=60&first_delay_ms=100", 5000);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(w.chunks().terminated).isTrue();
    assertThat(ms).isBetween(100L + 4 * 60, 3000L);
  }

  @Test
  void keepAliveServesSeveralRequestsOnOneConnection() throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), mock.port())) {
      s.setSoTimeout(5000);
      for (int i = 0; i < 3; i++) {
        s.getOutputStream().write(request("POST", "/v1/chat/completions?chunks=2", false));
        String text = readUntil(s.getInputStream(), "0\r\n\r\n");
        assertThat(text).contains("data: [DONE]").doesNotContain("Connection: close");
      }
      awaitStats(st -> st.idle() == 1);
    }
    awaitStats(st -> st.open() == 0);
  }

  @Test
  void modelsAndErrors() throws IOException {
    Wire models = exchange(request("GET", "/v1/models", true), 5000);
    assertThat(models.head).startsWith("HTTP/1.1 200 ");
    assertThat(new String(models.body, StandardCharsets.UTF_8)).contains("\"id\":\"mock-model\"");
    assertThat(post("/v1/chat/completions?fault=explode@1", 5000).head).startsWith("HTTP/1.1 400 ");
    assertThat(post("/v1/chat/completions?chunks=2&fault=reset@9", 5000).head).startsWith("HTTP/1.1 400 ");
    assertThat(exchange(request("GET", "/nowhere", true), 5000).head).startsWith("HTTP/1.1 404 ");
    byte[] chunkedBody = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "2\r\n{}\r\n0\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    assertThat(exchange(chunkedBody, 5000).head).startsWith("HTTP/1.1 411 ");
  }

  @Test
  void countsStreamsByHowTheyEnd() throws Exception {
    MockStats before = mock.stats();
    post("/v1/chat/completions?chunks=3", 5000);
    post("/v1/chat/completions?chunks=3&fault=truncate@1", 5000);
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), mock.port())) {
      s.getOutputStream().write(request("POST", "/v1/chat/completions?chunks=100&delay_ms=50", true));
      s.getInputStream().read();
    }
    MockStats after = awaitStats(st -> st.clientClosed() > before.clientClosed());
    assertThat(after.started() - before.started()).isEqualTo(3);
    assertThat(after.completed() - before.completed()).isEqualTo(1);
    assertThat(after.faulted() - before.faulted()).isEqualTo(1);
    assertThat(after.clientClosed() - before.clientClosed()).isEqualTo(1);
  }

  private static MockStats awaitStats(Predicate<MockStats> condition) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    MockStats s = mock.stats();
    while (!condition.test(s) && System.nanoTime() < deadline) {
      Thread.sleep(10);
      s = mock.stats();
    }
    assertThat(condition).as("stats %s", s).accepts(s);
    return s;
  }

  private static Wire post(String target, int readTimeoutMs) throws IOException {
    return exchange(request("POST", target, true), readTimeoutMs);
  }

  private static byte[] request(String method, String target, boolean close) {
    byte[] body = method.equals("POST") ? LoadClient.BODY : new byte[0];
    String head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.length + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(head.getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(body);
    return out.toByteArray();
  }

  private static Wire exchange(byte[] request, int readTimeoutMs) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    String ending;
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), mock.port())) {
      s.setSoTimeout(readTimeoutMs);
      OutputStream out = s.getOutputStream();
      out.write(request);
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = in.read(buf)) >= 0) {
          all.write(buf, 0, n);
        }
        ending = "eof";
      } catch (SocketTimeoutException e) {
        ending = "timeout";
      } catch (SocketException e) {
        assertThat(e.getMessage()).containsIgnoringCase("reset");
        ending = "reset";
      }
    }
    byte[] bytes = all.toByteArray();
    int headEnd = indexOf(bytes, "\r\n\r\n", 0);
    assertThat(headEnd).as("a complete head").isPositive();
    return new Wire(new String(bytes, 0, headEnd + 4, StandardCharsets.US_ASCII),
        Arrays.copyOfRange(bytes, headEnd + 4, bytes.length), ending);
  }

  private static String readUntil(InputStream in, String end) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    while (!all.toString(StandardCharsets.ISO_8859_1).endsWith(end)) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      all.write(b);
    }
    return all.toString(StandardCharsets.UTF_8);
  }

  private static int indexOf(byte[] haystack, String needle, int from) {
    byte[] n = needle.getBytes(StandardCharsets.US_ASCII);
    outer:
    for (int i = from; i <= haystack.length - n.length; i++) {
      for (int j = 0; j < n.length; j++) {
        if (haystack[i + j] != n[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
