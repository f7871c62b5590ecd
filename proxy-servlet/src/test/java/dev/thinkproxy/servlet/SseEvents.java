package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Splits an event stream into events the way an SSE client does, as bytes arrive in pieces of any size: lines end
 * with LF, CRLF or CR, and an empty line ends an event. Each event keeps its lines (without terminators) and its
 * raw bytes (with them), so a test can compare either. The same tokenizer reads what the upstream sent and what
 * the client received, so both sides are cut into events by the same rules.
 */
final class SseEvents {
  /** The line every heartbeat consists of. */
  static final byte[] KEEP_ALIVE = ": keep-alive".getBytes(UTF_8);

  /** One event: its lines without their terminators, and its raw bytes up to and including the empty line. */
  record Event(List<byte[]> lines, byte[] raw) {
    boolean isKeepAlive() {
      return lines.size() == 1 && Arrays.equals(lines.get(0), KEEP_ALIVE);
    }

    /** The values of its {@code data} lines joined with LF, or null when it has none. */
    byte[] data() {
      ByteArrayOutputStream out = null;
      for (byte[] line : lines) {
        if (isField(line, "data")) {
          int v = 4;
          if (v < line.length && line[v] == ':') {
            v++;
          }
          if (v < line.length && line[v] == ' ') {
            v++;
          }
          if (out == null) {
            out = new ByteArrayOutputStream();
          } else {
            out.write('\n');
          }
          out.write(line, v, line.length - v);
        }
      }
      return out == null ? null : out.toByteArray();
    }

    boolean onlyComments() {
      return !lines.isEmpty() && lines.stream().allMatch(l -> l.length > 0 && l[0] == ':');
    }

    @Override
    public String toString() {
      return show(raw);
    }
  }

  private final Consumer<Event> sink;
  private final ByteArrayOutputStream raw = new ByteArrayOutputStream();
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private final List<byte[]> lines = new ArrayList<>();
  private boolean pendingCr;

  SseEvents(Consumer<Event> sink) {
    this.sink = sink;
  }

  /** Every complete event of {@code bytes}, in order; what follows the last one is left out. */
  static List<Event> complete(byte[] bytes, int length) {
    List<Event> out = new ArrayList<>();
    SseEvents events = new SseEvents(out::add);
    events.feed(bytes, 0, length);
    events.endOfInput();
    return out;
  }

  /** The lines of {@code bytes} by SSE rules, a last unterminated line included. */
  static List<byte[]> lines(byte[] bytes) {
    SseEvents events = new SseEvents(e -> {});
    events.feed(bytes, 0, bytes.length);
    events.endOfInput();
    return events.pending().lines();
  }

  void feed(byte[] bytes, int offset, int length) {
    int end = offset + length;
    for (int i = offset; i < end; i++) {
      byte b = bytes[i];
      if (pendingCr) {
        pendingCr = false;
        if (b == '\n') {
          raw.write(b);
          endLine();
          continue;
        }
        endLine();
      }
      if (b == '\r') {
        // Whether an LF follows and belongs to this line end is known with the next byte.
        raw.write(b);
        pendingCr = true;
      } else if (b == '\n') {
        raw.write(b);
        endLine();
      } else {
        // The run up to the next line end in one go.
        int j = i;
        while (j < end && bytes[j] != '\n' && bytes[j] != '\r') {
          j++;
        }
        raw.write(bytes, i, j - i);
        line.write(bytes, i, j - i);
        i = j - 1;
      }
    }
  }

  /** The input ended: a line ended by a CR is complete, and so is the event an empty one ends. */
  void endOfInput() {
    if (pendingCr) {
      pendingCr = false;
      endLine();
    }
  }

  /** The started, unfinished event: its lines so far (a partial last line included) and its raw bytes. */
  Event pending() {
    List<byte[]> l = new ArrayList<>(lines);
    if (line.size() > 0) {
      l.add(line.toByteArray());
    }
    return new Event(l, raw.toByteArray());
  }

  private void endLine() {
    if (line.size() == 0) {
      sink.accept(new Event(List.copyOf(lines), raw.toByteArray()));
      lines.clear();
      raw.reset();
      return;
    }
    lines.add(line.toByteArray());
    line.reset();
  }

  static boolean isField(byte[] line, String name) {
    if (line.length < name.length()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      if (line[i] != name.charAt(i)) {
        return false;
      }
    }
    return line.length == name.length() || line[name.length()] == ':';
  }

  /** Bytes for a failure message: printable ASCII as is, the rest escaped, long runs shortened. */
  static String show(byte[] bytes) {
    StringBuilder s = new StringBuilder();
    int limit = 600;
    for (int i = 0; i < bytes.length; i++) {
      if (i == limit / 2 && bytes.length > limit) {
        s.append("…(").append(bytes.length - limit).append(" bytes)…");
        i = bytes.length - limit / 2;
      }
      int b = bytes[i] & 0xff;
      if (b == '\n') {
        s.append("\\n");
      } else if (b == '\r') {
        s.append("\\r");
      } else if (b >= 0x20 && b < 0x7f) {
        s.append((char) b);
      } else {
        s.append(String.format("\\x%02x", b));
      }
    }
    return s.toString();
  }
}
