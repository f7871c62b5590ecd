package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Rewrites a non-streaming {@code chat.completion} body, or a legacy {@code text_completion} body, with the same
 * processor and the same rules as the stream, so both give the same reasoning and text strings. A chat choice
 * holds its text in {@code message.content}, a legacy choice in its own {@code text}.
 */
final class JsonRewriter {
  private static final String CONTENT = "content";
  private static final String TEXT = "text";
  private static final String REASONING_CONTENT = "reasoning_content";
  private static final String REASONING = "reasoning";

  private JsonRewriter() {}

  /** Rewrites a chat completion in place; returns false when nothing changed, so the original bytes can be sent. */
  static boolean rewrite(ObjectNode body, ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    return rewrite(body, options, mode, implicitOpen, Endpoint.CHAT_COMPLETIONS, ResponseObserver.NONE);
  }

  /**
   * Rewrites the body in place and tells the observer what it says; returns false when nothing changed, so the
   * original bytes can be sent. With {@link ThinkMode#OFF} it only tells the observer.
   *
   * @param endpoint {@link Endpoint#COMPLETIONS} for a legacy completion, else a chat completion
   */
  static boolean rewrite(ObjectNode body, ThinkOptions options, ThinkMode mode, boolean implicitOpen,
      Endpoint endpoint, ResponseObserver observer) {
    boolean textInChoice = endpoint == Endpoint.COMPLETIONS;
    boolean changed = false;
    JsonNode choices = body.get("choices");
    if (choices instanceof ArrayNode) {
      for (JsonNode c : choices) {
        JsonNode holder = textInChoice ? c : c.get("message");
        if (holder instanceof ObjectNode) {
          changed |= rewriteText((ObjectNode) holder, textInChoice ? TEXT : CONTENT, options, mode, implicitOpen,
              observer);
        }
      }
    }
    ChunkRewriter.reportUsage(body.get("usage"), observer);
    return changed;
  }

  /** Rewrites the text of one message (or legacy choice) held in {@code field}; false when nothing changed. */
  private static boolean rewriteText(ObjectNode message, String field, ThinkOptions options, ThinkMode mode,
      boolean implicitOpen, ResponseObserver observer) {
    String nativeText = ChunkRewriter.nativeReasoning(message);
    boolean hasNativeKeys = message.has(REASONING_CONTENT) || message.has(REASONING);
    JsonNode content = message.get(field);

    StringBuilder reasoning = new StringBuilder(nativeText);
    StringBuilder text = new StringBuilder();
    boolean parsed = false;
    // Tags in the text are parsed in every mode, for the observer; wrap and off send the text as it came.
    boolean tagsParsed = false;
    if (content instanceof ArrayNode) {
      if (!ChunkRewriter.splitParts((ArrayNode) content, reasoning, text)) {
        reportAnswerFields(message, observer);
        return false;
      }
      parsed = true;
    } else if (content != null && content.isTextual()) {
      if (nativeText.isEmpty()) {
        splitWhole(options.newProcessor(implicitOpen), content.asText(), reasoning, text);
        tagsParsed = true;
      } else {
        text.append(content.asText());
      }
    }
    if (reasoning.length() > 0) {
      observer.reasoning();
    }
    if (text.length() > 0) {
      observer.content();
    }
    reportAnswerFields(message, observer);
    if (mode == ThinkMode.OFF) {
      return false;
    }

    if (mode == ThinkMode.WRAP) {
      String thought = tagsParsed ? "" : reasoning.toString();
      String answer = tagsParsed ? content.asText() : text.toString();
      if (thought.isEmpty() && !hasNativeKeys && !parsed) {
        return false;
      }
      String wrapped = thought.isEmpty()
          ? answer
          : options.tags().get(0).open() + "\n" + thought + "\n" + options.tags().get(0).close() + "\n\n" + answer;
      message.remove(REASONING_CONTENT);
      message.remove(REASONING);
      if (content != null && content.isNull() && wrapped.isEmpty()) {
        return true;
      }
      message.put(field, wrapped);
      return true;
    }

    // Unchanged when the message already says what we would write: reasoning only in the configured field (none
    // at all in strip mode) and the same text. Then the original bytes are sent.
    String reasoningField = options.reasoningField();
    JsonNode own = message.get(reasoningField);
    JsonNode other = message.get(reasoningField.equals(REASONING_CONTENT) ? REASONING : REASONING_CONTENT);
    String ownText = own != null && own.isTextual() ? own.asText() : "";
    boolean unchanged = other == null && !parsed && (mode != ThinkMode.STRIP || own == null)
        && (own == null || own.isNull() || own.isTextual()) && ownText.contentEquals(reasoning)
        && (content == null || !content.isTextual() || content.asText().contentEquals(text));
    if (unchanged) {
      return false;
    }
    if (content != null && !content.isNull()) {
      message.put(field, text.toString());
    } else if (text.length() > 0) {
      message.put(field, text.toString());
    }
    message.remove(REASONING_CONTENT);
    message.remove(REASONING);
    if (mode == ThinkMode.SPLIT && reasoning.length() > 0) {
      message.put(reasoningField, reasoning.toString());
    }
    return true;
  }

  /** A refusal or a tool call is answer output too. */
  private static void reportAnswerFields(ObjectNode message, ResponseObserver observer) {
    JsonNode refusal = message.get("refusal");
    JsonNode toolCalls = message.get("tool_calls");
    if ((refusal != null && refusal.isTextual() && !refusal.asText().isEmpty())
        || (toolCalls instanceof ArrayNode && !toolCalls.isEmpty()) || message.hasNonNull("function_call")) {
      observer.content();
    }
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
