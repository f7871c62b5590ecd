package dev.thinkproxy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Test helpers for event streams: run bytes through {@link SseRewriter}, parse SSE, collect text per choice. */
final class Sse {
  static final ObjectMapper MAPPER = JsonMapper.builder()
      .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .build();

  private Sse() {}

  /** One parsed event: its raw lines (without line ends), its joined data (null when it had none). */
  record Event(List<String> lines, String data) {
    boolean isDone() {
      return "[DONE]".equals(data);
    }

    JsonNode json() {
      try {
        return MAPPER.readTree(data);
      } catch (IOException e) {
        throw new UncheckedIOException("not JSON: " + data, e);
      }
    }

    boolean isJson() {
      if (data == null) {
        return false;
      }
      try {
        MAPPER.readTree(data);
        return data.strip().startsWith("{");
      } catch (IOException e) {
        return false;
      }
    }
  }

  /** Reasoning and content of one choice. */
  record Text(String reasoning, String content) {}

  static SseRewriter splitRewriter() {
    return rewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false);
  }

  static SseRewriter rewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    return new SseRewriter(new ChunkRewriter(options, mode, implicitOpen, MAPPER), MAPPER, Long.MAX_VALUE);
  }

  /** Feeds the whole input at once, then finishes. */
  static byte[] run(SseRewriter r, byte[] input) {
    return runCut(r, input, new int[0]);
  }

  /** Feeds the input cut at the given byte positions (ascending), then finishes. */
  static byte[] runCut(SseRewriter r, byte[] input, int... cuts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int from = 0;
    for (int c : cuts) {
      r.feed(input, from, c - from, out);
      from = c;
    }
    r.feed(input, from, input.length - from, out);
    r.finish(out);
    return out.toByteArray();
  }

  /** Feeds each piece as its own array (so offsets are always 0), then finishes. */
  static byte[] runPieces(SseRewriter r, List<byte[]> pieces) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : pieces) {
      r.feed(p, 0, p.length, out);
    }
    r.finish(out);
    return out.toByteArray();
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String str(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  /**
   * Parses an event stream strictly as the SSE spec says: lines end with CRLF, LF or CR; a blank line ends an event;
   * {@code data:} with an optional single space; comments start with a colon. A trailing event without its blank
   * line is returned too (a client would drop it, which the tests check separately).
   */
  static List<Event> parse(byte[] stream) {
    String s = str(stream);
    List<Event> events = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    StringBuilder data = null;
    int i = 0;
    while (i < s.length()) {
      int end = i;
      while (end < s.length() && s.charAt(end) != '\n' && s.charAt(end) != '\r') {
        end++;
      }
      String line = s.substring(i, end);
      if (end < s.length() && s.charAt(end) == '\r' && end + 1 < s.length() && s.charAt(end + 1) == '\n') {
        i = end + 2;
      } else {
        i = end + 1;
      }
      if (line.isEmpty()) {
        if (!lines.isEmpty()) {
          events.add(new Event(List.copyOf(lines), data == null ? null : data.toString()));
        }
        lines.clear();
        data = null;
        continue;
      }
      lines.add(line);
      if (line.startsWith("data:")) {
        String v = line.substring(5);
        if (v.startsWith(" ")) {
          v = v.substring(1);
        }
        data = data == null ? new StringBuilder(v) : data.append('\n').append(v);
      }
    }
    if (!lines.isEmpty()) {
      events.add(new Event(List.copyOf(lines), data == null ? null : data.toString()));
    }
    return events;
  }

  /** The events whose data is a JSON object. */
  static List<JsonNode> jsonEvents(List<Event> events) {
    List<JsonNode> out = new ArrayList<>();
    for (Event e : events) {
      if (e.isJson()) {
        out.add(e.json());
      }
    }
    return out;
  }

  /**
   * What the client sees per choice index, reading only {@code delta.reasoning_content} (or the given field) and
   * {@code delta.content} strings.
   */
  static Map<Integer, Text> clientText(byte[] stream, String reasoningField) {
    Map<Integer, StringBuilder[]> acc = new TreeMap<>();
    for (JsonNode chunk : jsonEvents(parse(stream))) {
      for (JsonNode c : choices(chunk)) {
        StringBuilder[] b = acc.computeIfAbsent(c.path("index").asInt(), k -> new StringBuilder[] {
            new StringBuilder(), new StringBuilder()});
        JsonNode d = c.path("delta");
        if (d.path(reasoningField).isTextual()) {
          b[0].append(d.get(reasoningField).asText());
        }
        if (d.path("content").isTextual()) {
          b[1].append(d.get("content").asText());
        }
      }
    }
    return toText(acc);
  }

  static Map<Integer, Text> clientText(byte[] stream) {
    return clientText(stream, "reasoning_content");
  }

  /**
   * What an upstream stream carries per choice: reasoning from {@code reasoning_content} and/or {@code reasoning}
   * (equal values count once), Mistral {@code thinking} parts; content from strings and {@code text} parts. Inline
   * tags are not interpreted.
   */
  static Map<Integer, Text> upstreamText(byte[] stream) {
    Map<Integer, StringBuilder[]> acc = new TreeMap<>();
    for (JsonNode chunk : jsonEvents(parse(stream))) {
      for (JsonNode c : choices(chunk)) {
        StringBuilder[] b = acc.computeIfAbsent(c.path("index").asInt(), k -> new StringBuilder[] {
            new StringBuilder(), new StringBuilder()});
        JsonNode d = c.path("delta");
        String rc = d.path("reasoning_content").isTextual() ? d.get("reasoning_content").asText() : "";
        String r = d.path("reasoning").isTextual() ? d.get("reasoning").asText() : "";
        b[0].append(rc.equals(r) ? rc : rc + r);
        JsonNode content = d.path("content");
        if (content.isTextual()) {
          b[1].append(content.asText());
        } else if (content.isArray()) {
          for (JsonNode part : content) {
            if (part.path("type").asText().equals("text")) {
              b[1].append(part.path("text").asText());
            } else if (part.path("type").asText().equals("thinking")) {
              JsonNode t = part.path("thinking");
              if (t.isTextual()) {
                b[0].append(t.asText());
              } else {
                for (JsonNode inner : t) {
                  b[0].append(inner.path("text").asText());
                }
              }
            }
          }
        }
      }
    }
    return toText(acc);
  }

  private static List<JsonNode> choices(JsonNode chunk) {
    JsonNode c = chunk.path("choices");
    List<JsonNode> out = new ArrayList<>();
    if (c instanceof ArrayNode) {
      c.forEach(out::add);
    }
    return out;
  }

  private static Map<Integer, Text> toText(Map<Integer, StringBuilder[]> acc) {
    Map<Integer, Text> out = new TreeMap<>();
    acc.forEach((k, v) -> out.put(k, new Text(v[0].toString(), v[1].toString())));
    return out;
  }

  /** The reasoning/content the processor gives for a whole text in one piece. */
  static Text oneShot(ThinkTagProcessor p, String text) {
    ThinkRun r = ThinkRun.of(p, text);
    return new Text(r.reasoning(), r.content());
  }

  static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  static byte[] concat(byte[]... parts) {
    int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
    byte[] out = new byte[n];
    int o = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, o, p.length);
      o += p.length;
    }
    return out;
  }
}
