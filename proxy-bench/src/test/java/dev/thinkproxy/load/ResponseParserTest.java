package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseParserTest {
  /** Every line ending, comments, other fields, multi-line data, an empty data line, a split multi-byte char. */
  private static final String SSE = ": comment\r\n"
      + "data: {\"a\":1}\r\n\r\n"
      + "event: message\nid: 7\ndata: line one\ndata:line two\n\n"
      + "data: ünïcödé €\r\r"
      + "data\n\n"
      + "retry: 10\n\n"
      + "data: [DONE]\n\n";
  private static final List<String> EVENTS = List.of("{\"a\":1}", "line one\nline two", "ünïcödé €", "", "[DONE]");

  @Test
  void chunkedEventStreamFedInPiecesOfEverySize() throws IOException {
    byte[] sse = SSE.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    wire.writeBytes(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    // HTTP chunks of 1..9 bytes that cut across lines and characters; one with an extension, then a trailer.
    for (int off = 0, size = 1; off < sse.length; off += size, size = size % 9 + 1) {
      int n = Math.min(size, sse.length - off);
      wire.writeBytes((Integer.toHexString(n) + (off == 0 ? ";x=\"y\"" : "") + "\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      wire.write(sse, off, n);
      wire.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    wire.writeBytes("0\r\nX-Trailer: 1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    byte[] bytes = wire.toByteArray();

    for (int piece = 1; piece <= bytes.length; piece++) {
      Collector c = new Collector();
      ResponseParser parser = new ResponseParser(1 << 20, c);
      for (int off = 0; off < bytes.length; off += piece) {
        int n = Math.min(piece, bytes.length - off);
        boolean complete = parser.feed(bytes, off, n);
        assertThat(complete).as("complete after %d of %d bytes in pieces of %d", off + n, bytes.length, piece)
            .isEqualTo(off + n == bytes.length);
      }
      assertThat(c.events).as("pieces of %d", piece).isEqualTo(EVENTS);
      assertThat(c.status).isEqualTo(200);
      assertThat(parser.keepAlive()).isTrue();
    }
  }

  @Test
  void contentLengthErrorBodyIsKeptAsSnippet() throws IOException {
    byte[] bytes = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 20\r\n"
        + "Connection: close\r\n\r\n{\"error\":\"overload\"}").getBytes(StandardCharsets.US_ASCII);
    for (int piece = 1; piece <= bytes.length; piece++) {
      Collector c = new Collector();
      ResponseParser parser = new ResponseParser(1 << 20, c);
      boolean complete = false;
      for (int off = 0; off < bytes.length; off += piece) {
        complete = parser.feed(bytes, off, Math.min(piece, bytes.length - off));
      }
      assertThat(complete).isTrue();
      assertThat(parser.status()).isEqualTo(503);
      assertThat(parser.snippet()).isEqualTo("{\"error\":\"overload\"}");
      assertThat(parser.keepAlive()).isFalse();
      assertThat(c.events).isEmpty();
    }
  }

  @Test
  void bodyUntilCloseCompletesAtEndOfInput() throws IOException {
    byte[] bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n"
        .getBytes(StandardCharsets.US_ASCII);
    Collector c = new Collector();
    ResponseParser parser = new ResponseParser(1 << 20, c);
    assertThat(parser.feed(bytes, 0, bytes.length)).isFalse();
    assertThat(parser.endOfInput()).isTrue();
    assertThat(c.events).containsExactly("x");
  }

  @Test
  void malformedChunkSizeFails() {
    byte[] bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    ResponseParser parser = new ResponseParser(1 << 20, new Collector());
    assertThatThrownBy(() -> parser.feed(bytes, 0, bytes.length)).isInstanceOf(IOException.class);
  }

  @Test
  void overlongLineFails() {
    byte[] bytes = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: " + "x".repeat(2000))
        .getBytes(StandardCharsets.US_ASCII);
    ResponseParser parser = new ResponseParser(1000, new Collector());
    assertThatThrownBy(() -> parser.feed(bytes, 0, bytes.length)).hasMessageContaining("longer than 1000");
  }

  private static final class Collector implements ResponseParser.Listener {
    final List<String> events = new ArrayList<>();
    int status;

    @Override
    public void head(int s) {
      status = s;
    }

    @Override
    public void event(byte[] data, int len) {
      events.add(new String(data, 0, len, StandardCharsets.UTF_8));
    }
  }
}
