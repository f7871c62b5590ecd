package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Rewrites a non-streaming {@code chat.completion} body with the same processor and the same rules as the
 * stream, so both give the same reasoning and content strings.
 */
final class JsonRewriter {
  private static final String CONTENT = "content";
  private static final String REASONING_CONTENT = "reasoning_content";
  private static final String REASONING = "reasoning";

  private JsonRewriter() {}

  /** Rewrites the body in place; returns false when nothing changed, so the original bytes can be sent. */
  static boolean rewrite(ObjectNode body, ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    return rewrite(body, options, mode, implicitOpen, Endpoint.CHAT_COMPLETIONS, ResponseObserver.NONE);
  }

  static boolean rewrite(ObjectNode body, ThinkOptions options, ThinkMode mode, boolean implicitOpen,
      Endpoint endpoint, ResponseObserver observer) {
    JsonNode choices = body.get("choices");
    if (!(choices instanceof ArrayNode)) {
      return false;
    }
    boolean changed = false;
    for (JsonNode c : choices) {
      JsonNode m = c.get("message");
      if (m instanceof ObjectNode) {
        changed |= rewriteMessage((ObjectNode) m, options, mode, implicitOpen);
      }
    }
    return changed;
  }

  private static boolean rewriteMessage(ObjectNode message, ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    String nativeText = ChunkRewriter.nativeReasoning(message);
    boolean hasNativeKeys = message.has(REASONING_CONTENT) || message.has(REASONING);
    JsonNode content = message.get(CONTENT);

    StringBuilder reasoning = new StringBuilder(nativeText);
    StringBuilder text = new StringBuilder();
    boolean parsed = false;
    if (content instanceof ArrayNode) {
      if (!ChunkRewriter.splitParts((ArrayNode) content, reasoning, text)) {
        return false;
      }
      parsed = true;
    } else if (content != null && content.isTextual()) {
      if (mode != ThinkMode.WRAP && nativeText.isEmpty()) {
        splitWhole(options.newProcessor(implicitOpen), content.asText(), reasoning, text);
      } else {
        text.append(content.asText());
      }
    }

    if (mode == ThinkMode.WRAP) {
      if (reasoning.length() == 0 && !hasNativeKeys && !parsed) {
        return false;
      }
      String wrapped = reasoning.length() == 0
          ? text.toString()
          : options.tags().get(0).open() + "\n" + reasoning + "\n" + options.tags().get(0).close() + "\n\n" + text;
      message.remove(REASONING_CONTENT);
      message.remove(REASONING);
      if (content != null && content.isNull() && wrapped.isEmpty()) {
        return true;
      }
      message.put(CONTENT, wrapped);
      return true;
    }

    // Unchanged when the message already says what we would write: reasoning only in the configured field (none
    // at all in strip mode) and the same content. Then the original bytes are sent.
    String field = options.reasoningField();
    JsonNode own = message.get(field);
    JsonNode other = message.get(field.equals(REASONING_CONTENT) ? REASONING : REASONING_CONTENT);
    String ownText = own != null && own.isTextual() ? own.asText() : "";
    boolean unchanged = other == null && !parsed && (mode != ThinkMode.STRIP || own == null)
        && (own == null || own.isNull() || own.isTextual()) && ownText.contentEquals(reasoning)
        && (content == null || !content.isTextual() || content.asText().contentEquals(text));
    if (unchanged) {
      return false;
    }
    if (content != null && !content.isNull()) {
      message.put(CONTENT, text.toString());
    } else if (text.length() > 0) {
      message.put(CONTENT, text.toString());
    }
    message.remove(REASONING_CONTENT);
    message.remove(REASONING);
    if (mode == ThinkMode.SPLIT && reasoning.length() > 0) {
      message.put(options.reasoningField(), reasoning.toString());
    }
    return true;
  }

  /** Runs a fresh processor over a whole text, appending its reasoning and content. */
  static void splitWhole(ThinkTagProcessor processor, String whole, StringBuilder reasoning, StringBuilder text) {
    for (List<ThinkTagProcessor.Segment> segments : List.of(processor.feed(whole), processor.finish())) {
      for (ThinkTagProcessor.Segment s : segments) {
        (s.kind() == ThinkTagProcessor.Kind.REASONING ? reasoning : text).append(s.text());
      }
    }
  }

}
