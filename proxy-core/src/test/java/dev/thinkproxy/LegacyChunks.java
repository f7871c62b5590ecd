package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Test helper for the legacy completions endpoint: builds {@code text_completion} payloads as JSON text, runs them
 * through the rewriters, and reads back what a client sees in {@code choices[].text} and the reasoning field.
 */
final class LegacyChunks {
  static final String ID = "cmpl-test";
  static final String MODEL = "test-model";

  private LegacyChunks() {}

  /** A JSON object from its text. */
  static ObjectNode parse(String json) {
    try {
      return (ObjectNode) Sse.MAPPER.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A legacy choice: index, logprobs, finish reason and its text. */
  static ObjectNode choice(int index, String text, String finish) {
    ObjectNode c = Chunks.choice(index, null, finish);
    c.remove("delta");
    return c.put("text", text);
  }

  /** One {@code text_completion} chunk carrying the given choices. */
  static String chunk(ObjectNode... choices) {
    ObjectNode o = Sse.MAPPER.createObjectNode();
    o.put("id", ID);
    o.put("object", "text_completion");
    o.put("created", 1770000000);
    ArrayNode arr = o.putArray("choices");
    for (ObjectNode c : choices) {
      arr.add(c);
    }
    o.put("model", MODEL);
    return Chunks.json(o);
  }

  static String text(int index, String text) {
    return chunk(choice(index, text, null));
  }

  static String text(String text) {
    return text(0, text);
  }

  static String finish(int index, String reason) {
    return chunk(choice(index, "", reason));
  }

  /** A non-streaming {@code text_completion} body with one choice per text. */
  static ObjectNode body(String... texts) {
    ObjectNode o = Sse.MAPPER.createObjectNode();
    o.put("id", ID);
    o.put("object", "text_completion");
    o.put("created", 1770000000);
    o.put("model", MODEL);
    ArrayNode arr = o.putArray("choices");
    for (int i = 0; i < texts.length; i++) {
      arr.add(choice(i, texts[i], "stop"));
    }
    o.putObject("usage").put("prompt_tokens", 5).put("completion_tokens", 7).put("total_tokens", 12);
    return o;
  }

  static ChunkRewriter rewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen, ResponseObserver observer) {
    return new ChunkRewriter(options, mode, implicitOpen, Sse.MAPPER, Endpoint.COMPLETIONS, observer);
  }

  static SseRewriter sse(ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    return new SseRewriter(rewriter(options, mode, implicitOpen, ResponseObserver.NONE), Sse.MAPPER, Long.MAX_VALUE);
  }

  /** Runs a legacy stream through the rewriter in one piece. */
  static byte[] run(ThinkOptions options, ThinkMode mode, boolean implicitOpen, String upstream) {
    return Sse.run(sse(options, mode, implicitOpen), Sse.bytes(upstream));
  }

  /** Rewrites a non-streaming legacy body in place; whether it changed. */
  static boolean rewrite(ObjectNode body, ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    return JsonRewriter.rewrite(body, options, mode, implicitOpen, Endpoint.COMPLETIONS, ResponseObserver.NONE);
  }

  /** The legacy choices of every JSON event of a client's stream, in order. */
  static List<JsonNode> choices(byte[] stream) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode chunk : Sse.jsonEvents(Sse.parse(stream))) {
      chunk.path("choices").forEach(out::add);
    }
    return out;
  }

  /** What the client reads per choice index: the reasoning field and {@code text}. */
  static Map<Integer, Sse.Text> clientText(byte[] stream, String reasoningField) {
    Map<Integer, StringBuilder[]> acc = new TreeMap<>();
    for (JsonNode c : choices(stream)) {
      StringBuilder[] b = acc.computeIfAbsent(c.path("index").asInt(),
          k -> new StringBuilder[] {new StringBuilder(), new StringBuilder()});
      b[0].append(c.path(reasoningField).asText(""));
      b[1].append(c.path("text").asText(""));
    }
    Map<Integer, Sse.Text> out = new TreeMap<>();
    acc.forEach((k, v) -> out.put(k, new Sse.Text(v[0].toString(), v[1].toString())));
    return out;
  }

  static Map<Integer, Sse.Text> clientText(byte[] stream) {
    return clientText(stream, "reasoning_content");
  }

  /** Reasoning and text of the first choice of a non-streaming body. */
  static Sse.Text bodyText(ObjectNode body, String reasoningField) {
    JsonNode c = body.at("/choices/0");
    return new Sse.Text(c.path(reasoningField).asText(""), c.path("text").asText(""));
  }
}
