package dev.thinkproxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits an upstream event stream into lines and events as bytes arrive in pieces of any size, and writes the
 * client's stream: events it does not change byte for byte, rewritten {@code chat.completion.chunk} events
 * re-serialised, comments and unknown fields verbatim and in order. Lines end with LF, CRLF or CR; {@code data:}
 * may or may not be followed by a space; multi-line data is joined with LF.
 *
 * <p>Pure push parser: no I/O, no threads. Not thread-safe: one instance per response.
 */
final class SseRewriter {
  private static final Logger log = LoggerFactory.getLogger(SseRewriter.class);
  private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

  private final ChunkRewriter rewriter;
  private final ObjectMapper mapper;
  private final long maxEventBytes;

  /** The raw bytes of the event being read, its lines with their terminators. */
  private final Bytes event = new Bytes();
  /** Where the line being read starts in {@link #event}. */
  private int lineStart;
  private boolean pendingCr;
  private final List<byte[]> otherLines = new ArrayList<>();
  /** The event's data lines joined with LF: the payload. */
  private final Bytes data = new Bytes();
  private int dataLines;
  private boolean doneSeen;
  /** An event grew beyond {@link #maxEventBytes}: its bytes go out as they come until it ends. */
  private boolean passThrough;
  /** In pass-through, whether the current line has had a byte other than a line end. */
  private boolean passThroughLineHasContent;
  /** In pass-through, the last byte was a CR, so an LF next is the second half of a CRLF. */
  private boolean passThroughCr;

  /**
   * @param rewriter the chunk rewriter, or null to relay events unchanged
   * @param maxEventBytes the largest event held whole; a larger one is relayed unchanged as its bytes arrive
   */
  private long dataEvents;

  SseRewriter(ChunkRewriter rewriter, ObjectMapper mapper, long maxEventBytes) {
    this.rewriter = rewriter;
    this.mapper = mapper;
    this.maxEventBytes = maxEventBytes;
  }

  /** Processes the next bytes from upstream, appending what the client should receive to {@code out}. */
  void feed(byte[] bytes, int offset, int length, ByteArrayOutputStream out) {
    int end = offset + length;
    for (int i = offset; i < end; i++) {
      if (passThrough) {
        i = passThrough(bytes, i, end, out) - 1;
        continue;
      }
      byte b = bytes[i];
      if (pendingCr) {
        pendingCr = false;
        if (b == '\n') {
          event.add(b);
          endLine(out);
          continue;
        }
        endLine(out);
      }
      if (b == '\n') {
        event.add(b);
        endLine(out);
      } else if (b == '\r') {
        event.add(b);
        pendingCr = true;
      } else {
        // Copy the run up to the next line end in one go.
        int j = i;
        while (j < end && bytes[j] != '\n' && bytes[j] != '\r') {
          j++;
        }
        event.add(bytes, i, j - i);
        i = j - 1;
        if (event.size > maxEventBytes) {
          startPassThrough(out);
        }
      }
    }
  }

  /**
   * An event too large to hold: held text goes out first, then what arrived of the event, and from now on its
   * bytes are forwarded as they arrive, so memory stays bounded and nothing is lost or reordered. The event is not
   * rewritten, and since what follows it cannot be judged without it, the rest of the stream passes unchanged.
   */
  private void startPassThrough(ByteArrayOutputStream out) {
    log.debug("an event of more than {} bytes is relayed unchanged", maxEventBytes);
    releaseHeld(out);
    writeRaw(out);
    clearEvent();
    passThrough = true;
    passThroughLineHasContent = true;
    passThroughCr = false;
  }

  /** Forwards bytes of an oversized event up to and including the blank line that ends it; returns where it stopped. */
  private int passThrough(byte[] bytes, int from, int end, ByteArrayOutputStream out) {
    int i = from;
    while (i < end) {
      byte b = bytes[i++];
      boolean lfOfCrlf = passThroughCr && b == '\n';
      passThroughCr = b == '\r';
      if (lfOfCrlf) {
        continue;
      }
      if (b != '\n' && b != '\r') {
        passThroughLineHasContent = true;
      } else if (passThroughLineHasContent) {
        passThroughLineHasContent = false;
      } else {
        passThrough = false;
        // After a CR that ends the event, an LF may follow: the main parser takes it as an empty line, which it
        // writes out unchanged.
        passThroughCr = false;
        break;
      }
    }
    out.write(bytes, from, i - from);
    return i;
  }

  /**
   * The upstream stream ended cleanly. An unterminated last event whose data is whole (JSON or {@code [DONE]}) is
   * processed and terminated, so the client dispatches it and nothing written after it runs into it. Any other
   * unterminated event goes out as comment lines, as in {@link #cutOff}. Then held-back text is released.
   */
  void finish(ByteArrayOutputStream out) {
    end(out, false);
  }

  /**
   * The upstream stream broke. An event cut off half-way is not dispatched, as a client would not dispatch it,
   * but its bytes are not lost either: they go out as comment lines ({@code ": "} before each line), after the
   * held-back text they followed, so that the proxy's own error event written next cannot run into them. Then
   * held-back text is released.
   */
  void cutOff(ByteArrayOutputStream out) {
    end(out, true);
  }

  private void end(ByteArrayOutputStream out, boolean broken) {
    if (passThrough) {
      passThrough = false;
      if (passThroughLineHasContent) {
        out.write('\n');
      }
      return;
    }
    if (pendingCr && event.size - lineStart == 1) {
      // A CR alone is a blank line: the event before it is complete and goes through the rewriter before the held
      // text is released, as the text it carries continues the held text.
      pendingCr = false;
      endLine(out);
    }
    if (broken) {
      // Held text came before whatever the fault cut off, a comment line included.
      releaseHeld(out);
    }
    if (pendingCr) {
      pendingCr = false;
      endLine(out);
    }
    if (event.size > lineStart) {
      event.add((byte) '\n');
      endLine(out);
    }
    if (event.size > 0) {
      if (broken || (dataLines > 0 && !isDone() && !isJson())) {
        releaseHeld(out);
        writeAsComments(out);
        clearEvent();
      } else {
        event.add(event.bytes[event.size - 1] == '\r' ? (byte) '\r' : (byte) '\n');
        dispatch(out);
      }
    }
    releaseHeld(out);
  }

  /** Writes the buffered event, whose lines are all terminated, with {@code ": "} before each line. */
  private void writeAsComments(ByteArrayOutputStream out) {
    byte[] raw = event.bytes;
    int lineStart = 0;
    for (int i = 0; i < event.size; i++) {
      boolean crlf = raw[i] == '\r' && i + 1 < event.size && raw[i + 1] == '\n';
      if (raw[i] == '\n' || raw[i] == '\r') {
        int lineEnd = crlf ? i + 2 : i + 1;
        out.write(':');
        out.write(' ');
        out.write(raw, lineStart, lineEnd - lineStart);
        lineStart = lineEnd;
        i = lineEnd - 1;
      }
    }
  }

  /** Releases held-back text for every choice, e.g. before the proxy writes its own error event. */
  void releaseHeld(ByteArrayOutputStream out) {
    if (rewriter == null) {
      return;
    }
    for (byte[] payload : rewriter.flushAll()) {
      writeEvent(out, payload);
    }
  }

  /** How many events with data the upstream has sent so far; comments and bare fields do not count. */
  long dataEvents() {
    return dataEvents;
  }

  /** Whether the upstream sent {@code data: [DONE]}. */
  boolean doneSeen() {
    return doneSeen;
  }

  private void endLine(ByteArrayOutputStream out) {
    byte[] raw = event.bytes;
    int start = lineStart;
    int contentEnd = event.size;
    while (contentEnd > start && (raw[contentEnd - 1] == '\n' || raw[contentEnd - 1] == '\r')) {
      contentEnd--;
    }
    lineStart = event.size;
    if (contentEnd == start) {
      dispatch(out);
      return;
    }
    if (start == 0 && raw[0] == ':') {
      // A comment outside an event (a keep-alive) goes out at once.
      out.write(raw, 0, event.size);
      clearEvent();
      return;
    }
    if (startsWithData(raw, start, contentEnd)) {
      int v = start + DATA.length;
      if (v < contentEnd && raw[v] == ' ') {
        v++;
      }
      if (dataLines > 0) {
        data.add((byte) '\n');
      }
      data.add(raw, v, contentEnd - v);
      dataLines++;
    } else if (isBareDataField(raw, start, contentEnd)) {
      // A field name alone is that field with an empty value.
      if (dataLines > 0) {
        data.add((byte) '\n');
      }
      dataLines++;
    } else {
      otherLines.add(Arrays.copyOfRange(raw, start, event.size));
    }
  }

  private void dispatch(ByteArrayOutputStream out) {
    if (dataLines > 0) {
      dataEvents++;
    }
    try {
      if (dataLines == 0 || rewriter == null) {
        writeRaw(out);
        return;
      }
      if (isDone()) {
        releaseHeld(out);
        doneSeen = true;
        writeRaw(out);
        return;
      }
      ChunkScanner.Chunk chunk = rewriter.scan(data.bytes, 0, data.size);
      if (chunk == null) {
        writeRaw(out);
        return;
      }
      if (chunk.error) {
        releaseHeld(out);
        writeRaw(out);
        return;
      }
      List<byte[]> rewritten;
      try {
        rewritten = rewriter.rewrite(chunk);
      } catch (UncheckedIOException e) {
        // The scan is stricter than the mapper, so this is a bug: the event goes out as it came.
        log.warn("an event that scanned as JSON did not parse; forwarded unchanged", e);
        rewritten = null;
      }
      if (rewritten == null) {
        writeRaw(out);
        return;
      }
      boolean first = true;
      for (byte[] p : rewritten) {
        if (first) {
          for (byte[] other : otherLines) {
            out.write(other, 0, other.length);
          }
          first = false;
        }
        writeEvent(out, p);
      }
    } finally {
      clearEvent();
    }
  }

  private void clearEvent() {
    event.clear();
    data.clear();
    lineStart = 0;
    dataLines = 0;
    otherLines.clear();
  }

  private boolean isJson() {
    try {
      // An empty input reads as a missing node rather than failing.
      return !mapper.readTree(data.bytes, 0, data.size).isMissingNode();
    } catch (IOException e) {
      return false;
    }
  }

  private void writeRaw(ByteArrayOutputStream out) {
    out.write(event.bytes, 0, event.size);
  }

  private static void writeEvent(ByteArrayOutputStream out, byte[] payload) {
    out.write(DATA, 0, DATA.length);
    out.write(' ');
    out.write(payload, 0, payload.length);
    out.write('\n');
    out.write('\n');
  }

  /** Whether the payload is {@code [DONE]}, give or take surrounding whitespace. */
  private boolean isDone() {
    if (data.size > DONE.length + 8) {
      return false;
    }
    String s = new String(data.bytes, 0, data.size, StandardCharsets.UTF_8).strip();
    return s.equals("[DONE]");
  }

  private static boolean isBareDataField(byte[] a, int from, int to) {
    if (to - from != DATA.length - 1) {
      return false;
    }
    for (int i = 0; i < DATA.length - 1; i++) {
      if (a[from + i] != DATA[i]) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWithData(byte[] a, int from, int to) {
    if (to - from < DATA.length) {
      return false;
    }
    for (int i = 0; i < DATA.length; i++) {
      if (a[from + i] != DATA[i]) {
        return false;
      }
    }
    return true;
  }

  /** A growable byte array that lends its contents without copying them. */
  private static final class Bytes {
    private static final int INITIAL_CAPACITY = 512;
    private static final int RETAINED_CAPACITY = 64 * 1024;
    byte[] bytes;
    int size;

    Bytes() {
      bytes = new byte[INITIAL_CAPACITY];
    }

    void add(byte b) {
      ensure(1);
      bytes[size++] = b;
    }

    void add(byte[] src, int offset, int length) {
      ensure(length);
      System.arraycopy(src, offset, bytes, size, length);
      size += length;
    }

    /** Empties the array, and lets go of it if one huge event made it grow. */
    void clear() {
      size = 0;
      if (bytes.length > RETAINED_CAPACITY) {
        bytes = new byte[INITIAL_CAPACITY];
      }
    }

    private void ensure(int more) {
      if (size + more > bytes.length) {
        bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
      }
    }
  }
}
