package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * An upstream {@code chat.completion.chunk} event stream built from a model of its text: the bytes the upstream
 * sends, from which {@link StreamCheck} derives what a client must receive when the stream is cut at any byte.
 *
 * <p>Texts come from {@link #thinkText}: a leading {@code <think>} block then the answer, cut into pieces at random
 * code points (so tags and surrogate pairs' neighbours are split across events), each piece one event, with
 * non-ASCII written raw or as {@code \\u} escapes at random.
 */
final class ChatStream {
  /** Reasoning and answer alphabet: no {@code <}, so no tag appears by accident; whitespace only inside. */
  private static final String[] ALPHABET = {
      "a", "b", "c", "d", "e", "r", "s", "t", "x", "y", "z", "0", "7", " ", "\n", "\"", "\\", "/", "é", "ß",
      "✓", "→", "漢", "😀", "🧠", "\t"};

  final byte[] payload;
  final String description;

  private ChatStream(byte[] payload, String description) {
    this.payload = payload;
    this.description = description;
  }

  int length() {
    return payload.length;
  }

  @Override
  public String toString() {
    return description + " (" + payload.length + " bytes)";
  }

  static Builder builder() {
    return new Builder();
  }

  /** A random reasoning of {@code reasoning} symbols in a leading think block, then {@code answer} symbols. */
  static String thinkText(Random random, int reasoning, int answer) {
    return "<think>" + word(random, reasoning) + "</think>" + word(random, answer);
  }

  /** Random symbols from the alphabet, starting and ending with a letter. */
  static String word(Random random, int symbols) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < symbols; i++) {
      String c = ALPHABET[random.nextInt(ALPHABET.length)];
      if ((i == 0 || i == symbols - 1) && Character.isWhitespace(c.charAt(0))) {
        c = "q";
      }
      s.append(c);
    }
    return s.toString();
  }

  /** Cuts {@code text} into pieces of 1..{@code max} code points (occasionally an empty one). */
  static List<String> pieces(Random random, String text, int max) {
    List<String> out = new ArrayList<>();
    int i = 0;
    while (i < text.length()) {
      if (random.nextInt(40) == 0) {
        out.add("");
      }
      int n = 1 + random.nextInt(max);
      int end = i;
      for (int k = 0; k < n && end < text.length(); k++) {
        end += Character.charCount(text.codePointAt(end));
      }
      out.add(text.substring(i, end));
      i = end;
    }
    return out;
  }

  /**
   * A JSON string literal for {@code text}: with a {@code random}, non-ASCII raw or as {@code \\u} escapes and
   * optional escapes used at random; without, everything that need not be escaped raw.
   */
  static String jsonString(String text, Random random) {
    StringBuilder s = new StringBuilder("\"");
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\t' -> s.append(random != null && random.nextBoolean() ? "\\u0009" : "\\t");
        case '/' -> s.append(random != null && random.nextBoolean() ? "\\/" : "/");
        default -> {
          if (c < 0x20 || (c >= 0x80 && random != null && random.nextInt(3) == 0)) {
            s.append(String.format("\\u%04x", (int) c));
          } else {
            s.append(c);
          }
        }
      }
    }
    return s.append('"').toString();
  }

  /** Builds the bytes of a stream, event by event. */
  static final class Builder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final StringBuilder description = new StringBuilder();
    private String newline = "\n";
    private int events;

    /** Lines end with CRLF from here on. */
    Builder crlf() {
      newline = "\r\n";
      description.append("[crlf]");
      return this;
    }

    /** The first event: the assistant role with empty content. */
    Builder role() {
      return data(chunkJson("{\"role\":\"assistant\",\"content\":\"\"}", "null"));
    }

    /** One event whose delta content is {@code text}; {@code random} varies its JSON escapes, if given. */
    Builder content(String text, Random random) {
      return data(chunkJson("{\"content\":" + jsonString(text, random) + "}", "null"));
    }

    /** One event per piece of {@code text}. */
    Builder contents(Random random, String text, int maxPiece) {
      for (String piece : pieces(random, text, maxPiece)) {
        content(piece, random);
      }
      return this;
    }

    /** The closing event: an empty delta with {@code finish_reason: stop}. */
    Builder stop() {
      return data(chunkJson("{}", "\"stop\""));
    }

    Builder done() {
      return data("[DONE]");
    }

    /** An event with one data line. */
    Builder data(String value) {
      return event(("data: " + value + newline + newline).getBytes(UTF_8));
    }

    /** A comment event, as some providers send while a model is busy. */
    Builder comment(String text) {
      return event((": " + text + newline + newline).getBytes(UTF_8));
    }

    /** Bytes as they are: a whole event, including its terminating empty line. */
    Builder event(byte[] bytes) {
      out.write(bytes, 0, bytes.length);
      events++;
      return this;
    }

    ChatStream build() {
      return new ChatStream(out.toByteArray(), events + " events" + description);
    }

    private static String chunkJson(String delta, String finishReason) {
      return "{\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\","
          + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finishReason + "}]}";
    }
  }
}
