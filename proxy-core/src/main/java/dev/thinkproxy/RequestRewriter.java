package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * The request-side reverse of {@code wrap}: a client that only reads {@code content} sends its history back with
 * the reasoning inside {@code <think>} in assistant messages. Providers that need the reasoning back in its own
 * field (DeepSeek's thinking mode with tools answers 400 without it) get a leading block moved into
 * {@code reasoning_content}. The body is forwarded byte for byte when nothing matches.
 */
final class RequestRewriter {
  private static final String FIELD = "reasoning_content";

  private RequestRewriter() {}

  /** The body with leading think blocks of assistant messages lifted, or {@code body} itself if none. */
  static byte[] liftReasoning(byte[] body, ThinkOptions options, ObjectMapper mapper) {
    JsonNode root;
    try {
      root = mapper.readTree(body);
    } catch (IOException e) {
      return body;
    }
    if (root == null || !(root.get("messages") instanceof ArrayNode)) {
      return body;
    }
    boolean changed = false;
    for (JsonNode m : root.get("messages")) {
      if (m instanceof ObjectNode && "assistant".equals(m.path("role").asText())) {
        changed |= lift((ObjectNode) m, options);
      }
    }
    if (!changed) {
      return body;
    }
    try {
      return mapper.writeValueAsBytes(root);
    } catch (IOException e) {
      return body;
    }
  }

  private static boolean lift(ObjectNode message, ThinkOptions options) {
    JsonNode content = message.get("content");
    if (content == null || !content.isTextual()) {
      return false;
    }
    JsonNode existing = message.get(FIELD);
    if (existing != null && existing.isTextual() && !existing.asText().isEmpty()) {
      return false;
    }
    StringBuilder reasoning = new StringBuilder();
    StringBuilder text = new StringBuilder();
    JsonRewriter.splitWhole(options.newProcessor(false), content.asText(), reasoning, text);
    if (reasoning.length() == 0) {
      return false;
    }
    message.put("content", text.toString());
    message.put(FIELD, reasoning.toString());
    return true;
  }
}
