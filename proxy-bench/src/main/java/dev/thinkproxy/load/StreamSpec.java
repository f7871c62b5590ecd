package dev.thinkproxy.load;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The shape of one mock stream, from the query string of the request: {@code chunks}, {@code size},
 * {@code reasoning}, {@code delay_ms}, {@code first_delay_ms} and {@code fault}. A stream has
 * {@link #totalEvents()} events: the role event (index 0), {@code chunks} content events (1..chunks), the
 * finish event with usage and {@code [DONE]}.
 */
record StreamSpec(int chunks, int size, double reasoning, long delayMs, long firstDelayMs, Fault fault) {
  static final int MAX_CHUNKS = 1_000_000;
  static final int MAX_SIZE = 16 << 20;

  /** A failure injected into the stream once {@code at} events have been sent. */
  record Fault(Kind kind, int at, int bytes) {
    enum Kind { RESET, TRUNCATE, STALL, PARTIAL, GARBAGE, BIGLINE }

    /** Parses {@code kind@K} or {@code bigline@K:BYTES}. */
    static Fault parse(String text) {
      int atSign = text.indexOf('@');
      if (atSign < 0) {
        throw new IllegalArgumentException("fault must be KIND@K: " + text);
      }
      Kind kind;
      try {
        kind = Kind.valueOf(text.substring(0, atSign).toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("unknown fault: " + text);
      }
      String rest = text.substring(atSign + 1);
      int bytes = 0;
      if (kind == Kind.BIGLINE) {
        int colon = rest.indexOf(':');
        if (colon < 0) {
          throw new IllegalArgumentException("bigline needs @K:BYTES: " + text);
        }
        bytes = parseInt("bigline bytes", rest.substring(colon + 1), 1, 256 << 20);
        rest = rest.substring(0, colon);
      }
      return new Fault(kind, parseInt("fault event", rest, 0, Integer.MAX_VALUE), bytes);
    }

    @Override
    public String toString() {
      return kind.name().toLowerCase(Locale.ROOT) + "@" + at + (kind == Kind.BIGLINE ? ":" + bytes : "");
    }
  }

  static StreamSpec defaults() {
    return new StreamSpec(200, 16, 0.5, 0, 0, null);
  }

  /** The spec for a raw query string (may be null); invalid values are an {@link IllegalArgumentException}. */
  static StreamSpec fromQuery(String rawQuery) {
    StreamSpec d = defaults();
    int chunks = d.chunks;
    int size = d.size;
    double reasoning = d.reasoning;
    long delayMs = d.delayMs;
    long firstDelayMs = d.firstDelayMs;
    Fault fault = null;
    if (rawQuery != null && !rawQuery.isEmpty()) {
      for (String pair : rawQuery.split("&")) {
        int eq = pair.indexOf('=');
        String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        switch (name) {
          case "chunks" -> chunks = parseInt(name, value, 0, MAX_CHUNKS);
          case "size" -> size = parseInt(name, value, 0, MAX_SIZE);
          case "reasoning" -> reasoning = parseShare(value);
          case "delay_ms" -> delayMs = parseInt(name, value, 0, Integer.MAX_VALUE);
          case "first_delay_ms" -> firstDelayMs = parseInt(name, value, 0, Integer.MAX_VALUE);
          case "fault" -> fault = value.isEmpty() ? null : Fault.parse(value);
          default -> { } // other parameters are the caller's business
        }
      }
    }
    StreamSpec spec = new StreamSpec(chunks, size, reasoning, delayMs, firstDelayMs, fault);
    spec.validateFault();
    return spec;
  }

  int totalEvents() {
    return chunks + 3;
  }

  /** How many of the content events are reasoning, inside {@code <think>}. */
  int reasoningChunks() {
    return (int) Math.round(reasoning * chunks);
  }

  private void validateFault() {
    if (fault == null) {
      return;
    }
    if (fault.kind == Fault.Kind.BIGLINE) {
      if (fault.at < 1 || fault.at > chunks) {
        throw new IllegalArgumentException("bigline event must be a content event, 1.." + chunks);
      }
    } else if (fault.at > totalEvents() - 1) {
      throw new IllegalArgumentException("fault event must be 0.." + (totalEvents() - 1));
    }
  }

  private static int parseInt(String name, String value, int min, int max) {
    try {
      int n = Integer.parseInt(value.strip());
      if (n < min || n > max) {
        throw new IllegalArgumentException(name + " must be " + min + ".." + max + ": " + value);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " is not a number: " + value);
    }
  }

  private static double parseShare(String value) {
    try {
      double d = Double.parseDouble(value.strip());
      if (!(d >= 0 && d <= 1)) {
        throw new IllegalArgumentException("reasoning must be 0..1: " + value);
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("reasoning is not a number: " + value);
    }
  }
}
