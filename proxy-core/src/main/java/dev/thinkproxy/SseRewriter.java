package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits an upstream event stream into lines and events as bytes arrive in pieces of any size, and writes the
 * client's stream: events it does not change byte for byte, rewritten {@code chat.completion.chunk} events
 * re-serialised, comments and unknown fields verbatim and in order. Lines end with LF, CRLF or CR; {@code data:}
 * may or may not be followed by a space; multi-line data is joined with LF.
 *
 * <p>Pure push parser: no I/O, no threads. Not thread-safe: one instance per response.
 */
final class SseRewriter {
  private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

  private final ChunkRewriter rewriter;
  private final ObjectMapper mapper;

  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private boolean pendingCr;
  private final ByteArrayOutputStream event = new ByteArrayOutputStream(512);
  private final List<byte[]> otherLines = new ArrayList<>();
  private final ByteArrayOutputStream data = new ByteArrayOutputStream(512);
  private int dataLines;
  private boolean doneSeen;

  /**
   * @param rewriter the chunk rewriter, or null to relay events unchanged
   */
  SseRewriter(ChunkRewriter rewriter, ObjectMapper mapper) {
    this.rewriter = rewriter;
    this.mapper = mapper;
  }

  /** Processes the next bytes from upstream, appending what the client should receive to {@code out}. */
  void feed(byte[] bytes, int offset, int length, ByteArrayOutputStream out) {
    int end = offset + length;
    for (int i = offset; i < end; i++) {
      byte b = bytes[i];
      if (pendingCr) {
        pendingCr = false;
        if (b == '\n') {
          line.write(b);
          endLine(out);
          continue;
        }
        endLine(out);
      }
      if (b == '\n') {
        line.write(b);
        endLine(out);
      } else if (b == '\r') {
        line.write(b);
        pendingCr = true;
      } else {
        // Copy the run up to the next line end in one go.
        int j = i;
        while (j < end && bytes[j] != '\n' && bytes[j] != '\r') {
          j++;
        }
        line.write(bytes, i, j - i);
        i = j - 1;
      }
    }
  }

  /**
   * The upstream stream ended: a pending line is terminated and an unterminated event is processed and terminated,
   * so that the client dispatches it and nothing written after it (such as the proxy's own error event) runs into
   * it; an unterminated event whose data does not parse was cut off, and is dropped as a client would drop it. Then
   * held-back text is released.
   */
  void finish(ByteArrayOutputStream out) {
    if (pendingCr) {
      pendingCr = false;
      endLine(out);
    }
    if (line.size() > 0) {
      line.write('\n');
      endLine(out);
    }
    if (event.size() > 0) {
      byte[] payload = data.toByteArray();
      if (dataLines > 0 && !isDone(payload) && parse(payload) == null) {
        event.reset();
        data.reset();
        dataLines = 0;
        otherLines.clear();
      } else {
        byte[] raw = event.toByteArray();
        event.write(raw[raw.length - 1] == '\r' ? '\r' : '\n');
        dispatch(out);
      }
    }
    releaseHeld(out);
  }

  /** Releases held-back text for every choice, e.g. before the proxy writes its own error event. */
  void releaseHeld(ByteArrayOutputStream out) {
    if (rewriter == null) {
      return;
    }
    for (ObjectNode payload : rewriter.flushAll()) {
      writeEvent(out, payload);
    }
  }

  /** Whether the upstream sent {@code data: [DONE]}. */
  boolean doneSeen() {
    return doneSeen;
  }

  private void endLine(ByteArrayOutputStream out) {
    byte[] raw = line.toByteArray();
    line.reset();
    int contentEnd = raw.length;
    while (contentEnd > 0 && (raw[contentEnd - 1] == '\n' || raw[contentEnd - 1] == '\r')) {
      contentEnd--;
    }
    if (contentEnd == 0 && raw.length > 0) {
      event.write(raw, 0, raw.length);
      dispatch(out);
      return;
    }
    if (event.size() == 0 && raw[0] == ':') {
      // A comment outside an event (a keep-alive) goes out at once.
      out.write(raw, 0, raw.length);
      return;
    }
    event.write(raw, 0, raw.length);
    if (startsWith(raw, DATA)) {
      int v = DATA.length;
      if (v < contentEnd && raw[v] == ' ') {
        v++;
      }
      if (dataLines > 0) {
        data.write('\n');
      }
      data.write(raw, v, contentEnd - v);
      dataLines++;
    } else {
      otherLines.add(raw);
    }
  }

  private void dispatch(ByteArrayOutputStream out) {
    try {
      if (dataLines == 0 || rewriter == null) {
        writeRaw(out);
        return;
      }
      byte[] payload = data.toByteArray();
      if (isDone(payload)) {
        releaseHeld(out);
        doneSeen = true;
        writeRaw(out);
        return;
      }
      JsonNode node = parse(payload);
      if (!(node instanceof ObjectNode)) {
        writeRaw(out);
        return;
      }
      ObjectNode chunk = (ObjectNode) node;
      if (chunk.has("error")) {
        releaseHeld(out);
        writeRaw(out);
        return;
      }
      List<ObjectNode> rewritten = rewriter.rewrite(chunk);
      if (rewritten == null) {
        writeRaw(out);
        return;
      }
      boolean first = true;
      for (ObjectNode p : rewritten) {
        if (first) {
          for (byte[] other : otherLines) {
            out.write(other, 0, other.length);
          }
          first = false;
        }
        writeEvent(out, p);
      }
    } finally {
      event.reset();
      data.reset();
      dataLines = 0;
      otherLines.clear();
    }
  }

  private JsonNode parse(byte[] payload) {
    try {
      return mapper.readTree(payload);
    } catch (IOException e) {
      return null; // not JSON: forwarded verbatim
    }
  }

  private void writeRaw(ByteArrayOutputStream out) {
    out.write(event.toByteArray(), 0, event.size());
  }

  private void writeEvent(ByteArrayOutputStream out, ObjectNode payload) {
    try {
      out.write(DATA, 0, DATA.length);
      out.write(' ');
      out.write(mapper.writeValueAsBytes(payload));
      out.write('\n');
      out.write('\n');
    } catch (IOException e) {
      throw new IllegalStateException("serialising a chunk failed", e);
    }
  }

  private static boolean isDone(byte[] payload) {
    if (payload.length > DONE.length + 8) {
      return false;
    }
    String s = new String(payload, StandardCharsets.UTF_8).strip();
    return s.length() == DONE.length && s.equals("[DONE]");
  }

  private static boolean startsWith(byte[] a, byte[] prefix) {
    if (a.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (a[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
