package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Test helper: builds {@code chat.completion.chunk} payloads as JSON text. */
final class Chunks {
  static final String ID = "chatcmpl-test";
  static final String MODEL = "test-model";

  private Chunks() {}

  static ObjectNode envelope() {
    ObjectNode o = Sse.MAPPER.createObjectNode();
    o.put("id", ID);
    o.put("object", "chat.completion.chunk");
    o.put("created", 1770000000);
    o.put("model", MODEL);
    o.put("system_fingerprint", "fp_test");
    o.putArray("choices");
    return o;
  }

  static ObjectNode choice(int index, ObjectNode delta, String finish) {
    ObjectNode c = Sse.MAPPER.createObjectNode();
    c.put("index", index);
    c.set("delta", delta);
    c.putNull("logprobs");
    if (finish == null) {
      c.putNull("finish_reason");
    } else {
      c.put("finish_reason", finish);
    }
    return c;
  }

  static ObjectNode delta() {
    return Sse.MAPPER.createObjectNode();
  }

  static ObjectNode contentDelta(String content) {
    return delta().put("content", content);
  }

  /** One chunk carrying the given choices. */
  static String chunk(ObjectNode... choices) {
    ObjectNode o = envelope();
    ArrayNode arr = (ArrayNode) o.get("choices");
    for (ObjectNode c : choices) {
      arr.add(c);
    }
    return json(o);
  }

  static String content(int index, String text) {
    return chunk(choice(index, contentDelta(text), null));
  }

  static String content(String text) {
    return content(0, text);
  }

  static String role(int index) {
    return chunk(choice(index, delta().put("role", "assistant").put("content", ""), null));
  }

  static String finish(int index, String reason) {
    return chunk(choice(index, delta(), reason));
  }

  static String json(Object o) {
    try {
      return Sse.MAPPER.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code data: <payload>} followed by a blank line, with LF line ends. */
  static String event(String payload) {
    return "data: " + payload + "\n\n";
  }

  static String stream(String... payloads) {
    StringBuilder b = new StringBuilder();
    for (String p : payloads) {
      b.append(event(p));
    }
    return b.toString();
  }
}
