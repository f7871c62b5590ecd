package dev.thinkproxy.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One connection of the load client and the stream it carries: writes the request, parses the response as it
 * arrives and times it. With keep-alive the connection goes back to the client's pool after a complete
 * response and carries the next stream.
 */
final class ClientConnection implements EventLoop.Handler, ResponseParser.Listener {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final int MAX_EVENT_BYTES = 64 << 20;
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);
  private static final String THINK_OPEN = "<think>";
  private static final String THINK_CLOSE = "</think>";

  private final LoadClient client;
  private final SocketChannel channel;
  private final SelectionKey key;
  private boolean connected;

  private StreamPlan plan;
  private ResponseParser parser;
  private ByteBuffer request;
  private long startNanos;
  private long lastActivityNanos;
  private long lastChunkNanos;
  private long nowNanos;
  private boolean firstByteSeen;
  private boolean answerSeen;
  private boolean thinkSeen;
  private boolean inThink;
  private int events;
  private boolean sawDone;
  private String errorMessage;

  ClientConnection(LoadClient client, SocketChannel channel) throws IOException {
    this.client = client;
    this.channel = channel;
    this.key = channel.register(client.loop().selector(), 0, this);
  }

  /** Starts a stream on this connection: connects first if it is new. */
  void begin(StreamPlan streamPlan, byte[] requestBytes, long now) throws IOException {
    plan = streamPlan;
    request = ByteBuffer.wrap(requestBytes);
    parser = new ResponseParser(MAX_EVENT_BYTES, this);
    startNanos = now;
    lastActivityNanos = now;
    lastChunkNanos = 0;
    firstByteSeen = false;
    answerSeen = false;
    thinkSeen = false;
    inThink = false;
    events = 0;
    sawDone = false;
    errorMessage = null;
    if (connected) {
      writeRequest();
    } else if (channel.connect(client.address())) {
      onConnected();
    } else {
      key.interestOps(SelectionKey.OP_CONNECT);
    }
  }

  boolean isConnected() {
    return connected;
  }

  boolean responding() {
    return parser != null && parser.headComplete();
  }

  long startNanos() {
    return startNanos;
  }

  long lastActivityNanos() {
    return lastActivityNanos;
  }

  @Override
  public void ready(SelectionKey k) throws IOException {
    if (k.isConnectable()) {
      if (!channel.finishConnect()) {
        return;
      }
      onConnected();
      return;
    }
    if (k.isWritable()) {
      writeRequest();
    }
    if (k.isValid() && k.isReadable()) {
      read();
    }
  }

  private void onConnected() throws IOException {
    connected = true;
    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    writeRequest();
  }

  private void writeRequest() throws IOException {
    channel.write(request);
    key.interestOps(request.hasRemaining() ? SelectionKey.OP_WRITE | SelectionKey.OP_READ : SelectionKey.OP_READ);
  }

  private void read() throws IOException {
    ByteBuffer buf = client.readBuffer();
    buf.clear();
    int n = channel.read(buf);
    long now = System.nanoTime();
    if (plan == null) {
      // An idle pooled connection: the server closed it or sent something unasked for.
      client.discard(this);
      return;
    }
    lastActivityNanos = now;
    if (n < 0) {
      if (parser.endOfInput()) {
        complete();
      } else {
        end(outcomeIfCut(StreamOutcome.BROKEN), "closed by the server mid-response", false);
      }
      return;
    }
    if (!firstByteSeen) {
      firstByteSeen = true;
      client.record(s -> s.ttfb.record(micros(now - startNanos)));
    }
    client.record(s -> s.bytes += n);
    nowNanos = now;
    boolean complete = parser.feed(buf.array(), 0, n);
    if (plan == null) {
      return;
    }
    // A stream that ends in the same read as its abort point has ended on its own: it is not aborted.
    if (complete) {
      complete();
    } else if (plan.abortAfterEvents() >= 0 && events >= plan.abortAfterEvents()) {
      end(StreamOutcome.ABORTED, null, false);
    }
  }

  @Override
  public void head(int status) {
    // Timing starts at the first byte, already recorded; the status is read from the parser at the end.
  }

  @Override
  public void event(byte[] data, int len) {
    if (plan == null) {
      return;
    }
    events++;
    long now = nowNanos;
    client.record(s -> s.events++);
    if (len == DONE.length && Arrays.equals(data, 0, len, DONE, 0, len)) {
      sawDone = true;
      return;
    }
    JsonNode node;
    try {
      node = MAPPER.readTree(data, 0, len);
    } catch (IOException e) {
      client.record(s -> s.malformedEvents++);
      return;
    }
    if (node.has("error")) {
      errorMessage = node.path("error").path("message").asText("");
      return;
    }
    if (lastChunkNanos != 0) {
      long gap = micros(now - lastChunkNanos);
      client.record(s -> s.gap.record(gap));
    }
    lastChunkNanos = now;
    JsonNode delta = node.path("choices").path(0).path("delta");
    if (nonEmptyText(delta.path("reasoning_content"))) {
      client.record(s -> s.reasoningEvents++);
    }
    JsonNode content = delta.path("content");
    if (nonEmptyText(content)) {
      client.record(s -> s.contentEvents++);
      if (!answerSeen && startsAnswer(content.asText())) {
        answerSeen = true;
        client.record(s -> s.ttfc.record(micros(now - startNanos)));
      }
    }
  }

  /**
   * Whether this content text holds answer: text outside a leading {@code <think>…</think>} block, which a
   * client straight to an upstream sees in {@code content} and the proxy moves out of it.
   */
  private boolean startsAnswer(String text) {
    String t = text;
    if (!thinkSeen && t.startsWith(THINK_OPEN)) {
      inThink = true;
    }
    thinkSeen = true;
    if (inThink) {
      int close = t.indexOf(THINK_CLOSE);
      if (close < 0) {
        return false;
      }
      inThink = false;
      t = t.substring(close + THINK_CLOSE.length());
    }
    return !t.isBlank();
  }

  private static boolean nonEmptyText(JsonNode n) {
    return n.isTextual() && !n.asText().isEmpty();
  }

  private void complete() {
    StreamOutcome outcome;
    if (parser.status() != 200) {
      outcome = StreamOutcome.HTTP_ERROR;
    } else if (sawDone) {
      outcome = StreamOutcome.DONE;
    } else if (errorMessage != null) {
      outcome = StreamOutcome.ERROR_EVENT;
    } else {
      outcome = StreamOutcome.ENDED_WITHOUT_DONE;
    }
    end(outcome, "response ended without [DONE]", parser.keepAlive());
  }

  /** The outcome of a stream cut short: what it already showed wins over how it was cut. */
  private StreamOutcome outcomeIfCut(StreamOutcome cut) {
    if (sawDone) {
      return StreamOutcome.DONE;
    }
    if (errorMessage != null) {
      return StreamOutcome.ERROR_EVENT;
    }
    if (parser.headComplete() && parser.status() != 200) {
      return StreamOutcome.HTTP_ERROR;
    }
    return cut;
  }

  @Override
  public void failed(Exception e) {
    if (plan == null) {
      client.discard(this);
      return;
    }
    String what = connected ? "read/write: " : "connect: ";
    StreamOutcome outcome = connected ? outcomeIfCut(StreamOutcome.BROKEN) : StreamOutcome.CONNECT_FAILED;
    end(outcome, what + e.getMessage(), false);
  }

  /** Ends the stream on a client timeout. */
  void timedOut() {
    end(outcomeIfCut(StreamOutcome.TIMEOUT), connected ? "idle timeout" : "connect timeout", false);
  }

  /** Ends the stream; {@code reason} explains a failure that the response itself does not. */
  private void end(StreamOutcome outcome, String reason, boolean reusable) {
    StreamPlan p = plan;
    long took = micros(System.nanoTime() - startNanos);
    String why = switch (outcome) {
      case DONE, ABORTED -> null;
      case ERROR_EVENT -> "error event: " + oneLine(errorMessage);
      case HTTP_ERROR -> "HTTP " + parser.status() + ": " + oneLine(parser.snippet());
      default -> reason;
    };
    plan = null;
    parser = null;
    if (!reusable) {
      close();
    }
    client.streamEnded(this, p, outcome, why, took, reusable);
  }

  void close() {
    key.cancel();
    try {
      channel.close();
    } catch (IOException ignored) {
      // already gone; nothing more to release
    }
  }

  private static long micros(long nanos) {
    return nanos / 1000;
  }

  private static String oneLine(String s) {
    String t = s.replaceAll("\\s+", " ").strip();
    return t.length() > 120 ? t.substring(0, 120) + "…" : t;
  }
}
